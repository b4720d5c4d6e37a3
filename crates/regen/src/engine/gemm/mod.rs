//! Matrix products, and the one place regen uses `unsafe`: the `gemm` crate's product takes
//! raw pointers and strides, and regen's own small-product kernel is compiled for AVX-512
//! and AVX2 and chosen at run time, which Rust only lets safe code call through `unsafe`
//! once the CPU has been checked. Everything outside this module sees safe functions whose
//! matrices are slices with checked extents. It also holds regen's one call into glibc,
//! [`retain_freed_memory`].

#![allow(unsafe_code)]

use std::sync::OnceLock;

mod gather;
mod nn16;
mod tn;
mod transpose;

pub use gather::*;
pub use nn16::*;
pub use tn::*;
pub use transpose::*;

/// Makes glibc keep freed memory in the process for the next allocation, instead of handing
/// large blocks back to the kernel on every `free` and taking fresh zeroed pages on the next
/// `malloc`. A training step allocates and frees activations and gradients of several MB
/// each, hundreds of times, so by default much of its time went to page faults (measured,
/// same binary, shipped denoiser: training step 631 / 621 / 632 ms by default against 537 /
/// 552 / 566 with both thresholds raised through `GLIBC_TUNABLES`, a 512x512 restore 822 /
/// 794 / 763 against 602 / 617 / 648). The process then keeps its peak heap, which a
/// training or restoring process reaches again on the next step anyway. Called once, by
/// [`crate::device::device`]; elsewhere than glibc it does nothing.
pub fn retain_freed_memory() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: `mallopt` only sets two of glibc's allocator parameters, under the
        // allocator's own lock; any thread may call it at any time, and no memory is touched.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, i32::MAX);
            libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        }
    });
}

/// A read-only strided matrix view: element `(i, j)` is `data[i * rs + j * cs]`.
#[derive(Clone, Copy, Debug)]
pub struct Mat<'a> {
    /// The storage the view reads.
    pub data: &'a [f32],
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Distance between consecutive rows.
    pub rs: usize,
    /// Distance between consecutive columns.
    pub cs: usize,
}

impl<'a> Mat<'a> {
    /// A row-major `rows x cols` matrix with row stride `rs`.
    pub fn rows(data: &'a [f32], rows: usize, cols: usize, rs: usize) -> Mat<'a> {
        Mat {
            data,
            rows,
            cols,
            rs,
            cs: 1,
        }
    }

    /// The transpose (a view, nothing moves).
    pub fn t(self) -> Mat<'a> {
        Mat {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }

    fn fits(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.rs + (self.cols - 1) * self.cs < self.data.len()
    }
}

/// `dst = lhs * rhs` (or `dst += lhs * rhs` with `accumulate`), where `dst` is row-major
/// `lhs.rows x rhs.cols` with row stride `dst_rs`. `threads > 1` lets `gemm` split the
/// product over the rayon pool; kernels that already run in parallel pass 1.
///
/// Panics if a view reaches past its slice or the shapes disagree.
pub fn gemm(
    dst: &mut [f32],
    dst_rs: usize,
    lhs: Mat<'_>,
    rhs: Mat<'_>,
    accumulate: bool,
    threads: usize,
) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert_eq!(rhs.rows, k, "gemm: inner dimensions differ");
    assert!(lhs.fits() && rhs.fits(), "gemm: operand view out of bounds");
    assert!(
        m == 0 || n == 0 || (m - 1) * dst_rs + n <= dst.len(),
        "gemm: destination view out of bounds"
    );
    assert!(n <= dst_rs || m <= 1, "gemm: destination rows overlap");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                dst[i * dst_rs..i * dst_rs + n].fill(0.0);
            }
        }
        return;
    }
    let par = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the asserts above check that every element the product reads, `(i, j)` of each
    // view for i < rows and j < cols, lies inside its slice, and that every element written,
    // `dst[i * dst_rs + j]` for i < m and j < n, lies inside `dst`, whose rows do not overlap.
    // `dst` is borrowed mutably, so it cannot alias the shared operand slices.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.cs as isize,
            lhs.rs as isize,
            rhs.data.as_ptr(),
            rhs.cs as isize,
            rhs.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        );
    }
}

/// The instruction set regen's own kernels run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// AVX-512F with FMA: 16 lanes.
    Avx512,
    /// AVX2 with FMA: 8 lanes.
    Avx2,
    /// Whatever the compiler makes of plain Rust for the build's target (SSE2 on x86-64).
    Portable,
}

impl Isa {
    /// The best the CPU offers, unless `REGEN_SIMD=portable` asks for the portable path.
    pub fn current() -> Isa {
        static ISA: OnceLock<Isa> = OnceLock::new();
        *ISA.get_or_init(|| {
            if std::env::var("REGEN_SIMD").as_deref() == Ok("portable") {
                return Isa::Portable;
            }
            Isa::available().into_iter().next().unwrap_or(Isa::Portable)
        })
    }

    /// Every instruction set this CPU can run, best first (always ends with `Portable`).
    pub fn available() -> Vec<Isa> {
        let mut v = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("fma") {
                v.push(Isa::Avx512);
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                v.push(Isa::Avx2);
            }
        }
        v.push(Isa::Portable);
        v
    }
}

/// A computation compiled once for each instruction set: [`simd`] runs it in a function
/// built for AVX-512, AVX2 or the plain target. `run` must be `#[inline(always)]` (and call
/// only `#[inline(always)]` helpers) so that its body is compiled with those features.
pub trait Simd {
    /// What the computation returns.
    type Output;
    /// The computation.
    fn run(self) -> Self::Output;
}

/// Runs `op` compiled for `isa`, which must be one of [`Isa::available`].
pub fn simd<S: Simd>(isa: Isa, op: S) -> S::Output {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => {
            assert!(is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("fma"));
            // SAFETY: the CPU was just checked to have the features `run_avx512` is compiled
            // for; `op` is safe Rust.
            unsafe { run_avx512(op) }
        }
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => {
            assert!(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"));
            // SAFETY: as above, for AVX2 and FMA.
            unsafe { run_avx2(op) }
        }
        _ => op.run(),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
fn run_avx512<S: Simd>(op: S) -> S::Output {
    op.run()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn run_avx2<S: Simd>(op: S) -> S::Output {
    op.run()
}

/// The read-only side of [`gemm_tn`].
struct Factors<'a> {
    a: &'a [f32],
    lda: usize,
    b: &'a [f32],
    ldb: usize,
    m: usize,
    n: usize,
    k: usize,
}

/// The lanes of the last register of a row: all 16, or the `n % 16` that remain.
#[cfg(target_arch = "x86_64")]
fn tail_mask(width: usize) -> u16 {
    if width >= 16 {
        u16::MAX
    } else {
        (1u16 << width) - 1
    }
}

/// For a tile `width <= 32` columns wide: whether it needs a second register, and the lane
/// masks of the first and second.
#[cfg(target_arch = "x86_64")]
fn lane_masks(width: usize) -> (bool, u16, u16) {
    if width > 16 {
        (true, u16::MAX, tail_mask(width - 16))
    } else {
        (false, tail_mask(width), 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_matches_the_definition() {
        for isa in Isa::available() {
            for (rows, cols) in [(1, 1), (16, 16), (7, 33), (33, 7), (17, 40), (64, 49)] {
                let (ss, ds) = (cols + 3, rows + 5);
                let src: Vec<f32> = (0..rows * ss).map(|v| v as f32).collect();
                let mut dst = vec![-1.0; cols * ds];
                transpose(isa, &src, ss, rows, cols, &mut dst, ds);
                for j in 0..cols {
                    for i in 0..ds {
                        let want = if i < rows { src[i * ss + j] } else { -1.0 };
                        assert_eq!(dst[j * ds + i], want, "{isa:?} {rows}x{cols} at {i},{j}");
                    }
                }
            }
        }
    }

    #[test]
    fn product_of_strided_views_matches_the_definition() {
        // lhs 2x3 (row-major), rhs 3x2 given as the transpose of a 2x3.
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let b = [1.0, 0.0, -1.0, 2.0, 1.0, 0.5];
        let mut d = [10.0f32; 4];
        gemm(
            &mut d,
            2,
            Mat::rows(&a, 2, 3, 3),
            Mat::rows(&b, 2, 3, 3).t(),
            false,
            1,
        );
        // [1 2 3; 4 5 6] * [1 2; 0 1; -1 0.5]
        assert_eq!(d, [-2.0, 5.5, -2.0, 16.0]);
        gemm(
            &mut d,
            2,
            Mat::rows(&a, 2, 3, 3),
            Mat::rows(&b, 2, 3, 3).t(),
            true,
            1,
        );
        assert_eq!(d, [-4.0, 11.0, -4.0, 32.0]);
    }

    #[test]
    fn small_products_match_gemm_on_every_instruction_set() {
        // Sizes around the block edges: rows 1..9 (blocks of 4 and single rows), columns
        // across the 32/16/8/1 column blocks.
        let mut rng = crate::rng::Rng::new(3);
        for &(m, n, k) in &[(1, 1, 1), (4, 32, 3), (9, 45, 17), (8, 7, 1), (32, 100, 64)] {
            let (lda, ldb, ldd) = (m + 3, n + 5, n + 1);
            let a = rng.normals(k * lda);
            let b = rng.normals(k * ldb);
            let mut want = vec![0.0; m * ldd];
            gemm(
                &mut want,
                ldd,
                Mat {
                    data: &a,
                    rows: m,
                    cols: k,
                    rs: 1,
                    cs: lda,
                },
                Mat::rows(&b, k, n, ldb),
                false,
                1,
            );
            for isa in Isa::available() {
                let mut got = vec![0.0; m * ldd];
                gemm_tn(isa, &mut got, ldd, &a, lda, &b, ldb, [m, n, k]);
                for i in 0..m {
                    for j in 0..n {
                        let (g, w) = (got[i * ldd + j], want[i * ldd + j]);
                        assert!(
                            (g - w).abs() < 1e-4 * (1.0 + w.abs()),
                            "{isa:?} {m}x{n}x{k}"
                        );
                    }
                }
            }
        }
        assert_eq!(Isa::available().last(), Some(&Isa::Portable));
    }

    #[test]
    fn row_major_products_in_register_columns_match_gemm() {
        let mut rng = crate::rng::Rng::new(5);
        // Rows around the blocks of six, columns of one and two registers, sums of 0-37.
        for &(m, n, k) in &[
            (1, 16, 1),
            (6, 32, 5),
            (13, 48, 37),
            (7, 16, 0),
            (20, 96, 64),
        ] {
            let (lda, ldb, ldd) = (k + 3, n + 16, n + 5);
            let a = rng.normals(m * lda);
            let b = rng.normals(k.max(1) * ldb);
            for accumulate in [false, true] {
                let mut want = vec![1.0; m * ldd];
                gemm(
                    &mut want,
                    ldd,
                    Mat::rows(&a, m, k, lda),
                    Mat::rows(&b, k, n, ldb),
                    accumulate,
                    1,
                );
                for isa in Isa::available() {
                    let mut got = vec![1.0; m * ldd];
                    gemm_nn16(isa, &mut got, ldd, &a, lda, &b, ldb, [m, n, k], accumulate);
                    for i in 0..m {
                        for j in 0..ldd {
                            let (g, w) = (got[i * ldd + j], want[i * ldd + j]);
                            let w = if j < n { w } else { 1.0 };
                            assert!(
                                (g - w).abs() < 1e-4 * (1.0 + w.abs()),
                                "{isa:?} {m}x{n}x{k} {accumulate}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn transposed_products_in_register_columns_match_gemm() {
        let mut rng = crate::rng::Rng::new(6);
        for &(m, n, k) in &[(1, 16, 1), (6, 32, 5), (13, 48, 37), (20, 96, 64)] {
            let (lda, ldb, ldd) = (m + 3, n + 16, n + 5);
            let a = rng.normals(k * lda);
            let b = rng.normals(k * ldb);
            let mut want = vec![1.0; m * ldd];
            let at = Mat {
                data: &a,
                rows: m,
                cols: k,
                rs: 1,
                cs: lda,
            };
            gemm(&mut want, ldd, at, Mat::rows(&b, k, n, ldb), true, 1);
            for isa in Isa::available() {
                let mut got = vec![1.0; m * ldd];
                gemm_tn16_acc(isa, &mut got, ldd, &a, lda, &b, ldb, [m, n, k]);
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    let w = if i % ldd < n { *w } else { 1.0 };
                    assert!(
                        (g - w).abs() < 1e-4 * (1.0 + w.abs()),
                        "{isa:?} {m}x{n}x{k}"
                    );
                }
            }
        }
    }

    #[test]
    fn products_along_the_summed_axis_match_gemm() {
        let mut rng = crate::rng::Rng::new(4);
        for &(m, n, k) in &[(1, 1, 1), (4, 4, 16), (9, 7, 37), (8, 13, 100)] {
            let (lda, ldb, ldd) = (k + 2, k + 1, n + 3);
            let a = rng.normals(m * lda);
            let b = rng.normals(n * ldb);
            let mut want = vec![1.0; m * ldd];
            gemm(
                &mut want,
                ldd,
                Mat::rows(&a, m, k, lda),
                Mat::rows(&b, n, k, ldb).t(),
                true,
                1,
            );
            for isa in Isa::available() {
                let mut got = vec![1.0; m * ldd];
                gemm_nt_acc(isa, &mut got, ldd, &a, lda, &b, ldb, [m, n, k]);
                for i in 0..m {
                    for j in 0..n {
                        let (g, w) = (got[i * ldd + j], want[i * ldd + j]);
                        assert!(
                            (g - w).abs() < 1e-4 * (1.0 + w.abs()),
                            "{isa:?} {m}x{n}x{k}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "out of bounds")]
    fn a_view_past_its_slice_is_refused() {
        let a = [1.0f32; 5];
        let mut d = [0.0f32; 4];
        gemm(
            &mut d,
            2,
            Mat::rows(&a, 2, 3, 3),
            Mat::rows(&a, 3, 2, 2),
            false,
            1,
        );
    }
}
