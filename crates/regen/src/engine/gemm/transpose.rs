//! Matrix transposes, blocked 16 x 16 in AVX-512 registers ([`transpose`]).

use super::*;

/// `dst[j * ds + i] = src[i * ss + j]` for `i < rows`, `j < cols`: a strided matrix
/// written transposed. The direct kernels move every input and output between planes and
/// channel-last rows this way; element by element it cost as much as a quarter of the
/// products it served (VAE, GAN). `isa` must be one of [`Isa::available`].
///
/// Panics if either view reaches past its slice.
pub fn transpose(
    isa: Isa,
    src: &[f32],
    ss: usize,
    rows: usize,
    cols: usize,
    dst: &mut [f32],
    ds: usize,
) {
    assert!(
        rows <= ds || cols <= 1,
        "transpose: destination rows overlap"
    );
    transpose_into(isa, src, ss, rows, cols, dst, |j| j * ds);
}

/// As [`transpose`], with column `j` of `src` written at `dst[at(j)..at(j) + rows]`: a
/// channel-last copy with padding puts each pixel where its padded row places it.
///
/// Panics if a view reaches past its slice.
pub fn transpose_into(
    isa: Isa,
    src: &[f32],
    ss: usize,
    rows: usize,
    cols: usize,
    dst: &mut [f32],
    at: impl Fn(usize) -> usize,
) {
    if rows == 0 || cols == 0 {
        return;
    }
    assert!(cols <= ss || rows == 1, "transpose: source rows overlap");
    assert!(
        (rows - 1) * ss + cols <= src.len(),
        "transpose: source out of bounds"
    );
    assert!(
        (0..cols).all(|j| at(j) + rows <= dst.len()),
        "transpose: destination out of bounds"
    );
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => {
            assert!(is_x86_feature_detected!("avx512f"));
            // SAFETY: the CPU was just checked to have AVX-512F, the feature the function is
            // compiled for; the asserts above bound every read and write it makes.
            unsafe { transpose_avx512(src, ss, rows, cols, dst, &at) }
        }
        _ => {
            // 16 x 16 blocks, so both sides stay within a few cache lines.
            for i0 in (0..rows).step_by(16) {
                for j0 in (0..cols).step_by(16) {
                    for j in j0..(j0 + 16).min(cols) {
                        let d = at(j);
                        for i in i0..(i0 + 16).min(rows) {
                            dst[d + i] = src[i * ss + j];
                        }
                    }
                }
            }
        }
    }
}

/// How many 16 x 16 blocks ahead [`transpose_avx512`] prefetches its source (measured on
/// the VAE's and the GAN's strided layers, same run, 0 against 1-4: forward 1.17 ms against
/// 0.96-1.03, 1.57 against 1.32-1.36, 2.74 against 2.44-2.52; 3 was as good as any).
const PREFETCH_BLOCKS: usize = 3;

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn transpose_avx512(
    src: &[f32],
    ss: usize,
    rows: usize,
    cols: usize,
    dst: &mut [f32],
    at: &impl Fn(usize) -> usize,
) {
    use std::arch::x86_64::*;
    // Every block loads 16 rows and stores 16 columns, the ones past the matrix with an
    // empty mask (touching no memory): loops of fixed length keep the block in registers,
    // where loops to `nr` and `nc` sent it through the stack (4x slower than a copy).
    for i0 in (0..rows).step_by(16) {
        let nr = (rows - i0).min(16);
        let store_mask = tail_mask(nr);
        for j0 in (0..cols).step_by(16) {
            let nc = (cols - j0).min(16);
            let load_mask = tail_mask(nc);
            let base = src.as_ptr().wrapping_add(i0 * ss + j0);
            // The source block PREFETCH_BLOCKS ahead in this loop's order, towards the cache:
            // its 16 rows lie far apart, which the hardware prefetchers do not follow, and
            // waiting for them made the copy 3x slower than a plain copy of the same floats.
            // (A prefetch touches no memory it cannot reach: it is only a hint.)
            let blocks_per_row = cols.div_ceil(16);
            let ahead = (i0 / 16) * blocks_per_row + j0 / 16 + PREFETCH_BLOCKS;
            let (ti, tj) = (ahead / blocks_per_row * 16, ahead % blocks_per_row * 16);
            if ti < rows {
                // Both ends of each row's stretch: it may straddle two cache lines.
                let last = (cols - tj).min(16) - 1;
                for i in ti..(ti + 16).min(rows) {
                    let p = src.as_ptr().wrapping_add(i * ss + tj);
                    _mm_prefetch::<_MM_HINT_T0>(p as *const i8);
                    _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(last) as *const i8);
                }
            }
            let mut r = [_mm512_setzero_ps(); 16];
            for (i, v) in r.iter_mut().enumerate() {
                let m = if i < nr { load_mask } else { 0 };
                // SAFETY: rows i0 + i < rows and columns j0..j0 + nc lie inside `src`
                // (checked by `transpose_into`); other lanes and rows are masked off.
                *v = unsafe { _mm512_maskz_loadu_ps(m, base.wrapping_add(i * ss)) };
            }
            // SAFETY: this function is compiled for AVX-512F and only called on such CPUs.
            let t = unsafe { transpose16(r) };
            for (j, v) in t.iter().enumerate() {
                if j < nc {
                    // SAFETY: at(j) + rows <= dst.len() for every column j (checked by
                    // `transpose_into`); the mask keeps the stores to i0 + i < rows.
                    unsafe {
                        _mm512_mask_storeu_ps(dst.as_mut_ptr().add(at(j0 + j) + i0), store_mask, *v)
                    };
                }
            }
        }
    }
}

/// Sixteen registers holding the rows of a 16 x 16 block -> sixteen holding its columns:
/// pairs of 32-bit lanes, then of 64-bit lanes (within each 128-bit quarter), then the
/// quarters twice.
///
/// # Safety
///
/// The CPU must have AVX-512F. Inlined into its one caller, a function compiled for
/// AVX-512F (a `#[target_feature]` function may not be `#[inline(always)]`, and without
/// inlining the block went through the stack).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn transpose16(r: [std::arch::x86_64::__m512; 16]) -> [std::arch::x86_64::__m512; 16] {
    use std::arch::x86_64::*;
    // SAFETY: register-only AVX-512F operations, which the caller's CPU has.
    unsafe {
        // Quarter q of t[2p] holds rows 2p, 2p+1 at columns 4q, 4q+1; of t[2p+1], at 4q+2, 4q+3.
        let mut t = [_mm512_setzero_ps(); 16];
        for p in 0..8 {
            t[2 * p] = _mm512_unpacklo_ps(r[2 * p], r[2 * p + 1]);
            t[2 * p + 1] = _mm512_unpackhi_ps(r[2 * p], r[2 * p + 1]);
        }
        // Quarter q of u[4g + e] holds rows 4g..4g+4 at column 4q + e.
        let mut u = [_mm512_setzero_ps(); 16];
        for g in 0..4 {
            let (a, b, c, d) = (t[4 * g], t[4 * g + 1], t[4 * g + 2], t[4 * g + 3]);
            let pd = _mm512_castps_pd;
            let ps = _mm512_castpd_ps;
            u[4 * g] = ps(_mm512_unpacklo_pd(pd(a), pd(c)));
            u[4 * g + 1] = ps(_mm512_unpackhi_pd(pd(a), pd(c)));
            u[4 * g + 2] = ps(_mm512_unpacklo_pd(pd(b), pd(d)));
            u[4 * g + 3] = ps(_mm512_unpackhi_pd(pd(b), pd(d)));
        }
        // v[e] (rows 0..8): columns e and 8 + e of rows 0-3, then of rows 4-7; v[4 + e]: columns
        // 4 + e and 12 + e. v[8 + ..] likewise for rows 8..16.
        let mut v = [_mm512_setzero_ps(); 16];
        for h in 0..2 {
            for e in 0..4 {
                let (a, b) = (u[8 * h + e], u[8 * h + 4 + e]);
                v[8 * h + e] = _mm512_shuffle_f32x4::<0x88>(a, b);
                v[8 * h + 4 + e] = _mm512_shuffle_f32x4::<0xdd>(a, b);
            }
        }
        let mut out = [_mm512_setzero_ps(); 16];
        for e in 0..8 {
            out[e] = _mm512_shuffle_f32x4::<0x88>(v[e], v[8 + e]);
            out[8 + e] = _mm512_shuffle_f32x4::<0xdd>(v[e], v[8 + e]);
        }
        out
    }
}
