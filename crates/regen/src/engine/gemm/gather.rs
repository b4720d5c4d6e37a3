//! Products whose right factor is gathered on the fly from runs of an image
//! ([`gemm_gather`], [`gemm_gather_tn`]), so no unfolded copy of the image is made.

use super::*;

/// One contiguous stretch of a gathered product's summed axis (see [`gemm_gather`]): `len`
/// values starting `a` past each row's offset in the left factor, against rows `b..b + len`
/// of the right factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    /// Offset in the left factor, added to each row's own offset.
    pub a: usize,
    /// First row of the right factor.
    pub b: usize,
    /// Length of the stretch.
    pub len: usize,
}

/// The operands of [`gemm_gather`] and [`gemm_gather_tn`], bounds already checked.
struct Gather<'a> {
    a: &'a [f32],
    rows: &'a [usize],
    b: &'a [f32],
    ldb: usize,
    n: usize,
    runs: &'a [Run],
}

/// Checks that every element a gathered product reads lies inside `a` and `b`.
fn check_gather(f: &Gather<'_>, name: &str) {
    let top = f.rows.iter().copied().max().unwrap_or(0);
    for r in f.runs {
        if r.len == 0 || f.rows.is_empty() {
            continue;
        }
        assert!(
            top + r.a + r.len <= f.a.len(),
            "{name}: left factor out of bounds"
        );
        assert!(
            (r.b + r.len - 1) * f.ldb + f.n <= f.b.len(),
            "{name}: right factor out of bounds"
        );
    }
    assert!(f.n <= f.ldb, "{name}: leading dimension");
}

/// `dst[i * dst_rs + j] (+)= sum over runs, l < run.len, of a[rows[i] + run.a + l] *
/// b[(run.b + l) * ldb + j]` for `i < rows.len()`, `j < n` (`+=` with `accumulate`).
///
/// A convolution as a product without an unfolded copy: each row is an output pixel, whose
/// offset `rows[i]` points at its receptive field in a channel-last input, and each run is
/// one kernel row's taps times the channels, contiguous there. `isa` must be one of
/// [`Isa::available`].
#[allow(clippy::too_many_arguments)]
pub fn gemm_gather(
    isa: Isa,
    dst: &mut [f32],
    dst_rs: usize,
    a: &[f32],
    rows: &[usize],
    b: &[f32],
    ldb: usize,
    n: usize,
    runs: &[Run],
    accumulate: bool,
) {
    let m = rows.len();
    if m == 0 || n == 0 {
        return;
    }
    let f = Gather {
        a,
        rows,
        b,
        ldb,
        n,
        runs,
    };
    check_gather(&f, "gemm_gather");
    assert!(
        n <= dst_rs && (m - 1) * dst_rs + n <= dst.len(),
        "gemm_gather: destination out of bounds"
    );
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => {
            assert!(is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("fma"));
            // SAFETY: the CPU was just checked to have AVX-512F and FMA, the features the
            // function is compiled for; `check_gather` and the assert above bound every read
            // and write it makes.
            unsafe { gather_avx512(dst, dst_rs, &f, accumulate) }
        }
        _ => gather_generic(dst, dst_rs, &f, accumulate, 0..m),
    }
}

fn gather_generic(
    dst: &mut [f32],
    dst_rs: usize,
    f: &Gather<'_>,
    accumulate: bool,
    rows: std::ops::Range<usize>,
) {
    for i in rows {
        let d = &mut dst[i * dst_rs..i * dst_rs + f.n];
        if !accumulate {
            d.fill(0.0);
        }
        for r in f.runs {
            let a = &f.a[f.rows[i] + r.a..][..r.len];
            for (l, &av) in a.iter().enumerate() {
                let b = &f.b[(r.b + l) * f.ldb..][..f.n];
                for (d, &bv) in d.iter_mut().zip(b) {
                    *d += av * bv;
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
fn gather_avx512(dst: &mut [f32], dst_rs: usize, f: &Gather<'_>, accumulate: bool) {
    let m = f.rows.len();
    // Columns outside, so a block of the right factor stays in cache while every row
    // streams past it.
    let mut j0 = 0;
    while j0 < f.n {
        let width = (f.n - j0).min(32);
        let mut i0 = 0;
        while i0 + 12 <= m {
            gather_tile::<12>(dst, dst_rs, f, accumulate, i0, j0, width);
            i0 += 12;
        }
        while i0 + 4 <= m {
            gather_tile::<4>(dst, dst_rs, f, accumulate, i0, j0, width);
            i0 += 4;
        }
        while i0 < m {
            gather_tile::<1>(dst, dst_rs, f, accumulate, i0, j0, width);
            i0 += 1;
        }
        j0 += 32;
    }
}

/// Rows `i0..i0 + R`, columns `j0..j0 + width` (`width <= 32`: two registers, the second
/// masked or unused).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
#[inline]
fn gather_tile<const R: usize>(
    dst: &mut [f32],
    dst_rs: usize,
    f: &Gather<'_>,
    accumulate: bool,
    i0: usize,
    j0: usize,
    width: usize,
) {
    use std::arch::x86_64::*;
    let (two, m0, m1) = lane_masks(width);
    let mut acc0 = [_mm512_setzero_ps(); R];
    let mut acc1 = [_mm512_setzero_ps(); R];
    // SAFETY: rows i0..i0 + R < rows.len() and columns j0..j0 + width <= n are inside
    // `dst` (checked by `gemm_gather`); masked lanes are neither read nor written.
    unsafe {
        if accumulate {
            for r in 0..R {
                let d = dst.as_ptr().add((i0 + r) * dst_rs + j0);
                acc0[r] = _mm512_maskz_loadu_ps(m0, d);
                if two {
                    acc1[r] = _mm512_maskz_loadu_ps(m1, d.add(16));
                }
            }
        }
    }
    for run in f.runs {
        let mut pa = [std::ptr::null::<f32>(); R];
        for (p, &row) in pa.iter_mut().zip(&f.rows[i0..i0 + R]) {
            // In bounds: rows[i] + run.a + run.len <= a.len() (`check_gather`).
            *p = f.a[row + run.a..].as_ptr();
        }
        // SAFETY: `check_gather` bounds a[rows[i] + run.a + l] for l < run.len and
        // b[(run.b + l) * ldb + j] for j < n; the masks keep the loads to j < j0 + width.
        unsafe {
            let mut pb = f.b.as_ptr().add(run.b * f.ldb + j0);
            for l in 0..run.len {
                let b0 = _mm512_maskz_loadu_ps(m0, pb);
                if two {
                    let b1 = _mm512_maskz_loadu_ps(m1, pb.add(16));
                    for r in 0..R {
                        let av = _mm512_set1_ps(*pa[r].add(l));
                        acc0[r] = _mm512_fmadd_ps(av, b0, acc0[r]);
                        acc1[r] = _mm512_fmadd_ps(av, b1, acc1[r]);
                    }
                } else {
                    for r in 0..R {
                        let av = _mm512_set1_ps(*pa[r].add(l));
                        acc0[r] = _mm512_fmadd_ps(av, b0, acc0[r]);
                    }
                }
                // May point past the end after the last row; only dereferenced in bounds.
                pb = pb.wrapping_add(f.ldb);
            }
        }
    }
    // SAFETY: as for the loads above.
    unsafe {
        for r in 0..R {
            let d = dst.as_mut_ptr().add((i0 + r) * dst_rs + j0);
            _mm512_mask_storeu_ps(d, m0, acc0[r]);
            if two {
                _mm512_mask_storeu_ps(d.add(16), m1, acc1[r]);
            }
        }
    }
}

/// `dst[(run.b + l) * dst_rs + j] += sum over i of a[rows[i] + run.a + l] * b[i * ldb + j]`
/// for every run, `l < run.len`, `j < n`: the weight gradient of [`gemm_gather`]'s
/// convolution (the output gradient `b` pixel-major, summed over the pixels). `isa` must be
/// one of [`Isa::available`].
#[allow(clippy::too_many_arguments)]
pub fn gemm_gather_tn(
    isa: Isa,
    dst: &mut [f32],
    dst_rs: usize,
    a: &[f32],
    rows: &[usize],
    b: &[f32],
    ldb: usize,
    n: usize,
    runs: &[Run],
) {
    let m = rows.len();
    if m == 0 || n == 0 {
        return;
    }
    // Here `b` is indexed by the row i, not by the run: check it as `m` rows.
    assert!(
        n <= ldb && (m - 1) * ldb + n <= b.len(),
        "gemm_gather_tn: right factor out of bounds"
    );
    let top = rows.iter().copied().max().unwrap_or(0);
    for r in runs {
        if r.len == 0 {
            continue;
        }
        assert!(
            top + r.a + r.len <= a.len(),
            "gemm_gather_tn: left factor out of bounds"
        );
        assert!(
            n <= dst_rs && (r.b + r.len - 1) * dst_rs + n <= dst.len(),
            "gemm_gather_tn: destination out of bounds"
        );
    }
    let f = Gather {
        a,
        rows,
        b,
        ldb,
        n,
        runs,
    };
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => {
            assert!(is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("fma"));
            // SAFETY: the CPU was just checked to have AVX-512F and FMA, the features the
            // function is compiled for; the asserts above bound every read and write.
            unsafe { gather_tn_avx512(dst, dst_rs, &f) }
        }
        _ => {
            for run in runs {
                for (i, &row) in rows.iter().enumerate() {
                    let bi = &b[i * ldb..][..n];
                    for l in 0..run.len {
                        let av = a[row + run.a + l];
                        let d = &mut dst[(run.b + l) * dst_rs..][..n];
                        for (d, &bv) in d.iter_mut().zip(bi) {
                            *d += av * bv;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
fn gather_tn_avx512(dst: &mut [f32], dst_rs: usize, f: &Gather<'_>) {
    for run in f.runs {
        let mut j0 = 0;
        while j0 < f.n {
            let width = (f.n - j0).min(32);
            let mut l0 = 0;
            while l0 + 12 <= run.len {
                gather_tn_tile::<12>(dst, dst_rs, f, run, l0, j0, width);
                l0 += 12;
            }
            while l0 + 4 <= run.len {
                gather_tn_tile::<4>(dst, dst_rs, f, run, l0, j0, width);
                l0 += 4;
            }
            while l0 < run.len {
                gather_tn_tile::<1>(dst, dst_rs, f, run, l0, j0, width);
                l0 += 1;
            }
            j0 += 32;
        }
    }
}

/// Destination rows `run.b + l0 ..` (R of them), columns `j0..j0 + width`, summed over
/// every row of the gathered factor.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
#[inline]
fn gather_tn_tile<const R: usize>(
    dst: &mut [f32],
    dst_rs: usize,
    f: &Gather<'_>,
    run: &Run,
    l0: usize,
    j0: usize,
    width: usize,
) {
    use std::arch::x86_64::*;
    let (two, m0, m1) = lane_masks(width);
    let mut acc0 = [_mm512_setzero_ps(); R];
    let mut acc1 = [_mm512_setzero_ps(); R];
    // SAFETY: `gemm_gather_tn` bounds a[rows[i] + run.a + l] for l < run.len (l0 + R <=
    // run.len here) and b[i * ldb + j] for j < n; the masks keep loads to j < j0 + width.
    unsafe {
        let a = f.a.as_ptr().add(run.a + l0);
        let mut pb = f.b.as_ptr().add(j0);
        for &row in f.rows {
            let pa = a.add(row);
            let b0 = _mm512_maskz_loadu_ps(m0, pb);
            if two {
                let b1 = _mm512_maskz_loadu_ps(m1, pb.add(16));
                for r in 0..R {
                    let av = _mm512_set1_ps(*pa.add(r));
                    acc0[r] = _mm512_fmadd_ps(av, b0, acc0[r]);
                    acc1[r] = _mm512_fmadd_ps(av, b1, acc1[r]);
                }
            } else {
                for (r, acc) in acc0.iter_mut().enumerate() {
                    let av = _mm512_set1_ps(*pa.add(r));
                    *acc = _mm512_fmadd_ps(av, b0, *acc);
                }
            }
            // May point past the end after the last row; only dereferenced in bounds.
            pb = pb.wrapping_add(f.ldb);
        }
        // Destination rows run.b + l0 + r < run.b + run.len, checked by `gemm_gather_tn`.
        for r in 0..R {
            let d = dst.as_mut_ptr().add((run.b + l0 + r) * dst_rs + j0);
            let v0 = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, d), acc0[r]);
            _mm512_mask_storeu_ps(d, m0, v0);
            if two {
                let v1 = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, d.add(16)), acc1[r]);
                _mm512_mask_storeu_ps(d.add(16), m1, v1);
            }
        }
    }
}
