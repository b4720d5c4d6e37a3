//! Products with one factor transposed, for the weight and input gradients: `A^T B`
//! ([`gemm_tn`]) and `C += A B^T` ([`gemm_nt_acc`]), with AVX-512 and AVX2 kernels.

use super::*;

/// `dst[i * dst_rs + j] = sum_l a[l * lda + i] * b[l * ldb + j]` for `i < m`, `j < n`,
/// `l < k`: a product whose left factor is stored transposed. Made for the many small
/// products of a Winograd convolution (`k` = channels, `n` = a block of tiles), where a
/// general `gemm` spends more time packing its operands than multiplying them. `isa` must be
/// one of [`Isa::available`].
#[allow(clippy::too_many_arguments)]
pub fn gemm_tn(
    isa: Isa,
    dst: &mut [f32],
    dst_rs: usize,
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    [m, n, k]: [usize; 3],
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        m <= lda && n <= ldb && n <= dst_rs,
        "gemm_tn: leading dimensions"
    );
    assert!(
        k == 0 || (k - 1) * lda + m <= a.len(),
        "gemm_tn: left factor out of bounds"
    );
    assert!(
        k == 0 || (k - 1) * ldb + n <= b.len(),
        "gemm_tn: right factor out of bounds"
    );
    assert!(
        (m - 1) * dst_rs + n <= dst.len(),
        "gemm_tn: destination out of bounds"
    );
    let f = Factors {
        a,
        lda,
        b,
        ldb,
        m,
        n,
        k,
    };
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => {
            assert!(is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("fma"));
            // SAFETY: the CPU was just checked to have AVX-512F and FMA, the features the
            // function is compiled for; its body is safe Rust with checked indexing.
            unsafe { tn_avx512(dst, dst_rs, &f) }
        }
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => {
            assert!(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"));
            // SAFETY: as above, for AVX2 and FMA.
            unsafe { tn_avx2(dst, dst_rs, &f) }
        }
        _ => tn_generic(dst, dst_rs, &f, 0..m, 0..n),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
fn tn_avx512(dst: &mut [f32], dst_rs: usize, f: &Factors<'_>) {
    let mut i0 = 0;
    while i0 + 4 <= f.m {
        let j_end = tn_avx512_rows::<4>(dst, dst_rs, f, i0);
        tn_generic(dst, dst_rs, f, i0..i0 + 4, j_end..f.n);
        i0 += 4;
    }
    while i0 < f.m {
        let j_end = tn_avx512_rows::<1>(dst, dst_rs, f, i0);
        tn_generic(dst, dst_rs, f, i0..i0 + 1, j_end..f.n);
        i0 += 1;
    }
}

/// Rows `i0..i0 + R`, 32 columns at a time (two registers per row); returns where the
/// 32-column blocks stop.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
#[inline]
fn tn_avx512_rows<const R: usize>(
    dst: &mut [f32],
    dst_rs: usize,
    f: &Factors<'_>,
    i0: usize,
) -> usize {
    use std::arch::x86_64::*;
    let mut j0 = 0;
    while j0 + 32 <= f.n {
        let mut acc = [_mm512_setzero_ps(); 8];
        for l in 0..f.k {
            let a = &f.a[l * f.lda + i0..][..R];
            let b = &f.b[l * f.ldb + j0..][..32];
            // SAFETY: `b` holds 32 floats; the loads read b[0..16] and b[16..32].
            let (b0, b1) = unsafe {
                (
                    _mm512_loadu_ps(b.as_ptr()),
                    _mm512_loadu_ps(b.as_ptr().add(16)),
                )
            };
            for r in 0..R {
                let ar = _mm512_set1_ps(a[r]);
                acc[2 * r] = _mm512_fmadd_ps(ar, b0, acc[2 * r]);
                acc[2 * r + 1] = _mm512_fmadd_ps(ar, b1, acc[2 * r + 1]);
            }
        }
        for r in 0..R {
            let d = &mut dst[(i0 + r) * dst_rs + j0..][..32];
            // SAFETY: `d` holds 32 floats; the stores write d[0..16] and d[16..32].
            unsafe {
                _mm512_storeu_ps(d.as_mut_ptr(), acc[2 * r]);
                _mm512_storeu_ps(d.as_mut_ptr().add(16), acc[2 * r + 1]);
            }
        }
        j0 += 32;
    }
    j0
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn tn_avx2(dst: &mut [f32], dst_rs: usize, f: &Factors<'_>) {
    let mut i0 = 0;
    while i0 + 4 <= f.m {
        let j_end = tn_avx2_rows::<4>(dst, dst_rs, f, i0);
        tn_generic(dst, dst_rs, f, i0..i0 + 4, j_end..f.n);
        i0 += 4;
    }
    while i0 < f.m {
        let j_end = tn_avx2_rows::<1>(dst, dst_rs, f, i0);
        tn_generic(dst, dst_rs, f, i0..i0 + 1, j_end..f.n);
        i0 += 1;
    }
}

/// As [`tn_avx512_rows`], 16 columns (two 8-lane registers) at a time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
fn tn_avx2_rows<const R: usize>(
    dst: &mut [f32],
    dst_rs: usize,
    f: &Factors<'_>,
    i0: usize,
) -> usize {
    use std::arch::x86_64::*;
    let mut j0 = 0;
    while j0 + 16 <= f.n {
        let mut acc = [_mm256_setzero_ps(); 8];
        for l in 0..f.k {
            let a = &f.a[l * f.lda + i0..][..R];
            let b = &f.b[l * f.ldb + j0..][..16];
            // SAFETY: `b` holds 16 floats; the loads read b[0..8] and b[8..16].
            let (b0, b1) = unsafe {
                (
                    _mm256_loadu_ps(b.as_ptr()),
                    _mm256_loadu_ps(b.as_ptr().add(8)),
                )
            };
            for r in 0..R {
                let ar = _mm256_set1_ps(a[r]);
                acc[2 * r] = _mm256_fmadd_ps(ar, b0, acc[2 * r]);
                acc[2 * r + 1] = _mm256_fmadd_ps(ar, b1, acc[2 * r + 1]);
            }
        }
        for r in 0..R {
            let d = &mut dst[(i0 + r) * dst_rs + j0..][..16];
            // SAFETY: `d` holds 16 floats; the stores write d[0..8] and d[8..16].
            unsafe {
                _mm256_storeu_ps(d.as_mut_ptr(), acc[2 * r]);
                _mm256_storeu_ps(d.as_mut_ptr().add(8), acc[2 * r + 1]);
            }
        }
        j0 += 16;
    }
    j0
}

/// `dst[i * dst_rs + j] += sum_l a[i * lda + l] * b[j * ldb + l]` for `i < m`, `j < n`,
/// `l < k`: a product of two factors that are both contiguous along the summed axis, as a
/// convolution's weight gradient is (output gradient and unfolded input, both along the
/// pixels). A general `gemm` would first copy one of them transposed; this kernel reads both
/// in place, 16 pixels at a time. `isa` must be one of [`Isa::available`].
#[allow(clippy::too_many_arguments)]
pub fn gemm_nt_acc(
    isa: Isa,
    dst: &mut [f32],
    dst_rs: usize,
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    [m, n, k]: [usize; 3],
) {
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    assert!(
        k <= lda && k <= ldb && n <= dst_rs,
        "gemm_nt: leading dimensions"
    );
    assert!(
        (m - 1) * lda + k <= a.len(),
        "gemm_nt: left factor out of bounds"
    );
    assert!(
        (n - 1) * ldb + k <= b.len(),
        "gemm_nt: right factor out of bounds"
    );
    assert!(
        (m - 1) * dst_rs + n <= dst.len(),
        "gemm_nt: destination out of bounds"
    );
    let f = Factors {
        a,
        lda,
        b,
        ldb,
        m,
        n,
        k,
    };
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => {
            assert!(is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("fma"));
            // SAFETY: the CPU was just checked to have AVX-512F and FMA, the features the
            // function is compiled for; its body reads and writes through checked slices.
            unsafe { nt_avx512(dst, dst_rs, &f) }
        }
        _ => nt_generic(dst, dst_rs, &f, 0..m, 0..n),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
fn nt_avx512(dst: &mut [f32], dst_rs: usize, f: &Factors<'_>) {
    use std::arch::x86_64::*;
    let k16 = f.k / 16 * 16;
    // Four columns (rows of b) outside, so each streams once while the rows of a, read four
    // at a time, stay in cache.
    let mut j0 = 0;
    while j0 + 4 <= f.n {
        let mut i0 = 0;
        while i0 + 4 <= f.m {
            let mut acc = [_mm512_setzero_ps(); 16];
            let (a0, a1, a2, a3) = (
                &f.a[i0 * f.lda..][..f.k],
                &f.a[(i0 + 1) * f.lda..][..f.k],
                &f.a[(i0 + 2) * f.lda..][..f.k],
                &f.a[(i0 + 3) * f.lda..][..f.k],
            );
            let (b0, b1, b2, b3) = (
                &f.b[j0 * f.ldb..][..f.k],
                &f.b[(j0 + 1) * f.ldb..][..f.k],
                &f.b[(j0 + 2) * f.ldb..][..f.k],
                &f.b[(j0 + 3) * f.ldb..][..f.k],
            );
            let ar = [a0, a1, a2, a3];
            let br = [b0, b1, b2, b3];
            let mut l = 0;
            while l < k16 {
                // SAFETY: l + 16 <= k16 <= k, the length of every row slice.
                let av = unsafe {
                    [
                        _mm512_loadu_ps(a0.as_ptr().add(l)),
                        _mm512_loadu_ps(a1.as_ptr().add(l)),
                        _mm512_loadu_ps(a2.as_ptr().add(l)),
                        _mm512_loadu_ps(a3.as_ptr().add(l)),
                    ]
                };
                // SAFETY: as above.
                let bv = unsafe {
                    [
                        _mm512_loadu_ps(b0.as_ptr().add(l)),
                        _mm512_loadu_ps(b1.as_ptr().add(l)),
                        _mm512_loadu_ps(b2.as_ptr().add(l)),
                        _mm512_loadu_ps(b3.as_ptr().add(l)),
                    ]
                };
                for r in 0..4 {
                    for c in 0..4 {
                        acc[r * 4 + c] = _mm512_fmadd_ps(av[r], bv[c], acc[r * 4 + c]);
                    }
                }
                l += 16;
            }
            for r in 0..4 {
                for c in 0..4 {
                    let mut v = _mm512_reduce_add_ps(acc[r * 4 + c]);
                    for t in k16..f.k {
                        v += ar[r][t] * br[c][t];
                    }
                    dst[(i0 + r) * dst_rs + j0 + c] += v;
                }
            }
            i0 += 4;
        }
        for i in i0..f.m {
            nt_row_avx512(dst, dst_rs, f, i, j0..j0 + 4);
        }
        j0 += 4;
    }
    for i in 0..f.m {
        nt_row_avx512(dst, dst_rs, f, i, j0..f.n);
    }
}

/// The rows and columns [`nt_avx512`]'s 4 x 4 blocks leave: one row against columns
/// `cols`, four at a time. (A one-channel output, as the denoiser's tail has, is all edge:
/// its weight gradient is one row against 288 columns.)
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
fn nt_row_avx512(
    dst: &mut [f32],
    dst_rs: usize,
    f: &Factors<'_>,
    i: usize,
    cols: std::ops::Range<usize>,
) {
    use std::arch::x86_64::*;
    let k16 = f.k / 16 * 16;
    let a = &f.a[i * f.lda..][..f.k];
    let mut j = cols.start;
    while j < cols.end {
        let nb = (cols.end - j).min(4);
        let mut acc = [_mm512_setzero_ps(); 4];
        let mut l = 0;
        while l < k16 {
            // SAFETY: l + 16 <= k16 <= k, the length of `a` and of every row of b sliced below.
            let av = unsafe { _mm512_loadu_ps(a.as_ptr().add(l)) };
            for (c, acc) in acc.iter_mut().enumerate().take(nb) {
                let b = &f.b[(j + c) * f.ldb..][..f.k];
                // SAFETY: as above.
                let bv = unsafe { _mm512_loadu_ps(b.as_ptr().add(l)) };
                *acc = _mm512_fmadd_ps(av, bv, *acc);
            }
            l += 16;
        }
        for (c, acc) in acc.iter().enumerate().take(nb) {
            let b = &f.b[(j + c) * f.ldb..][..f.k];
            let mut v = _mm512_reduce_add_ps(*acc);
            for t in k16..f.k {
                v += a[t] * b[t];
            }
            dst[i * dst_rs + j + c] += v;
        }
        j += nb;
    }
}

fn nt_generic(
    dst: &mut [f32],
    dst_rs: usize,
    f: &Factors<'_>,
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
) {
    for i in rows {
        let a = &f.a[i * f.lda..][..f.k];
        for j in cols.clone() {
            let b = &f.b[j * f.ldb..][..f.k];
            dst[i * dst_rs + j] += a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
        }
    }
}

/// The portable kernel, and the edges the vector kernels leave.
fn tn_generic(
    dst: &mut [f32],
    dst_rs: usize,
    f: &Factors<'_>,
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
) {
    if cols.is_empty() {
        return;
    }
    for i in rows {
        let d = &mut dst[i * dst_rs + cols.start..i * dst_rs + cols.end];
        d.fill(0.0);
        for l in 0..f.k {
            let a = f.a[l * f.lda + i];
            let b = &f.b[l * f.ldb + cols.start..l * f.ldb + cols.end];
            for (d, b) in d.iter_mut().zip(b) {
                *d += a * b;
            }
        }
    }
}
