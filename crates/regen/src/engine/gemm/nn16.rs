//! Products whose rows come in blocks of 16 channels ([`gemm_nn16`], [`gemm_tn16_acc`]),
//! for the channel-blocked layouts of the direct and Winograd kernels.

use super::*;

/// `dst[i * dst_rs + j] = sum_l a[i * lda + l] * b[l * ldb + j]` (or `+=` with
/// `accumulate`) for `i < m`, `j < n`, `l < k`, where `n` is a multiple of 16: a plain
/// row-major product whose columns fill whole 16-lane registers. Made for the 36 products
/// of Winograd over channel-last tiles (rows: tiles; summed: input channels; columns:
/// output channels, padded to 16). `isa` must be one of [`Isa::available`].
#[allow(clippy::too_many_arguments)]
pub fn gemm_nn16(
    isa: Isa,
    dst: &mut [f32],
    dst_rs: usize,
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    [m, n, k]: [usize; 3],
    accumulate: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        n.is_multiple_of(16),
        "gemm_nn16: columns not a multiple of 16"
    );
    assert!(
        k <= lda && n <= ldb && n <= dst_rs,
        "gemm_nn16: leading dimensions"
    );
    assert!(
        k == 0 || (m - 1) * lda + k <= a.len(),
        "gemm_nn16: left factor out of bounds"
    );
    assert!(
        k == 0 || (k - 1) * ldb + n <= b.len(),
        "gemm_nn16: right factor out of bounds"
    );
    assert!(
        (m - 1) * dst_rs + n <= dst.len(),
        "gemm_nn16: destination out of bounds"
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
    nn16(isa, dst, dst_rs, &f, [lda, 1], accumulate);
}

/// `dst[i * dst_rs + j] += sum_l a[l * lda + i] * b[l * ldb + j]` for `i < m`, `j < n`,
/// `l < k`, where `n` is a multiple of 16: [`gemm_nn16`] with the left factor stored
/// transposed, for Winograd's weight gradient (summed: tiles; rows: output channels;
/// columns: input channels). `isa` must be one of [`Isa::available`].
#[allow(clippy::too_many_arguments)]
pub fn gemm_tn16_acc(
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
        n.is_multiple_of(16),
        "gemm_tn16: columns not a multiple of 16"
    );
    assert!(
        m <= lda && n <= ldb && n <= dst_rs,
        "gemm_tn16: leading dimensions"
    );
    assert!(
        (k - 1) * lda + m <= a.len(),
        "gemm_tn16: left factor out of bounds"
    );
    assert!(
        (k - 1) * ldb + n <= b.len(),
        "gemm_tn16: right factor out of bounds"
    );
    assert!(
        (m - 1) * dst_rs + n <= dst.len(),
        "gemm_tn16: destination out of bounds"
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
    nn16(isa, dst, dst_rs, &f, [1, lda], true);
}

/// The product of [`gemm_nn16`] and [`gemm_tn16_acc`], whose callers checked that every
/// `a[i * a_st[0] + l * a_st[1]]` (`i < m`, `l < k`) lies in `a` and the rest as there.
fn nn16(
    isa: Isa,
    dst: &mut [f32],
    dst_rs: usize,
    f: &Factors<'_>,
    a_st: [usize; 2],
    accumulate: bool,
) {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => {
            assert!(is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("fma"));
            // SAFETY: the CPU was just checked to have AVX-512F and FMA, the features the
            // function is compiled for; the callers' asserts bound every access it makes.
            unsafe { nn16_avx512(dst, dst_rs, f, a_st, accumulate) }
        }
        _ => simd(
            isa,
            Nn16 {
                dst,
                dst_rs,
                f,
                a_st,
                accumulate,
            },
        ),
    }
}

/// The portable (and AVX2) side of [`gemm_nn16`]: rows of `dst` as sums of scaled rows of
/// `b`, which the compiler vectorises for whatever instruction set [`simd`] compiles it for.
struct Nn16<'a, 'b> {
    dst: &'b mut [f32],
    dst_rs: usize,
    f: &'b Factors<'a>,
    a_st: [usize; 2],
    accumulate: bool,
}

impl Simd for Nn16<'_, '_> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let f = self.f;
        let [ai, al] = self.a_st;
        for i in 0..f.m {
            let d = &mut self.dst[i * self.dst_rs..][..f.n];
            if !self.accumulate {
                d.fill(0.0);
            }
            for l in 0..f.k {
                let av = f.a[i * ai + l * al];
                for (d, b) in d.iter_mut().zip(&f.b[l * f.ldb..][..f.n]) {
                    *d += av * b;
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
fn nn16_avx512(
    dst: &mut [f32],
    dst_rs: usize,
    f: &Factors<'_>,
    a_st: [usize; 2],
    accumulate: bool,
) {
    let mut j0 = 0;
    while j0 + 32 <= f.n {
        nn16_avx512_cols::<2>(dst, dst_rs, f, a_st, j0, accumulate);
        j0 += 32;
    }
    if j0 < f.n {
        nn16_avx512_cols::<1>(dst, dst_rs, f, a_st, j0, accumulate);
    }
}

/// Columns `j0..j0 + 16 * V` of every row: six rows at a time, then the rest one by one.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
#[inline]
fn nn16_avx512_cols<const V: usize>(
    dst: &mut [f32],
    dst_rs: usize,
    f: &Factors<'_>,
    a_st: [usize; 2],
    j0: usize,
    accumulate: bool,
) {
    let mut i0 = 0;
    while i0 + 6 <= f.m {
        nn16_avx512_tile::<6, V>(dst, dst_rs, f, a_st, i0, j0, accumulate);
        i0 += 6;
    }
    while i0 < f.m {
        nn16_avx512_tile::<1, V>(dst, dst_rs, f, a_st, i0, j0, accumulate);
        i0 += 1;
    }
}

/// Rows `i0..i0 + R`, columns `j0..j0 + 16 * V`: `R * V` accumulators in registers over the
/// whole sum, one broadcast of `a` and `V` loads of `b` per step.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
#[inline]
fn nn16_avx512_tile<const R: usize, const V: usize>(
    dst: &mut [f32],
    dst_rs: usize,
    f: &Factors<'_>,
    [ai, al]: [usize; 2],
    i0: usize,
    j0: usize,
    accumulate: bool,
) {
    use std::arch::x86_64::*;
    assert!(i0 + R <= f.m && j0 + 16 * V <= f.n);
    let mut acc = [[_mm512_setzero_ps(); V]; R];
    let (ap, bp) = (f.a.as_ptr(), f.b.as_ptr());
    for l in 0..f.k {
        let mut bv = [_mm512_setzero_ps(); V];
        for (v, b) in bv.iter_mut().enumerate() {
            // SAFETY: l < k and j0 + 16 * V <= n, so the 16 floats at l * ldb + j0 + 16 v lie
            // within (k - 1) * ldb + n <= b.len() (checked by `gemm_nn16`).
            *b = unsafe { _mm512_loadu_ps(bp.add(l * f.ldb + j0 + 16 * v)) };
        }
        for (r, acc) in acc.iter_mut().enumerate() {
            // SAFETY: i0 + r < m and l < k: an element of `a` by the callers' checks.
            let av = _mm512_set1_ps(unsafe { *ap.add((i0 + r) * ai + l * al) });
            for v in 0..V {
                acc[v] = _mm512_fmadd_ps(av, bv[v], acc[v]);
            }
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        let d = &mut dst[(i0 + r) * dst_rs + j0..][..16 * V];
        for (v, acc) in acc.iter().enumerate() {
            let p = d[16 * v..].as_mut_ptr();
            // SAFETY: `d` holds 16 * V floats; this reads and writes d[16 v..16 v + 16].
            unsafe {
                let sum = if accumulate {
                    _mm512_add_ps(_mm512_loadu_ps(p), *acc)
                } else {
                    *acc
                };
                _mm512_storeu_ps(p, sum);
            }
        }
    }
}
