//! Matrix products, and the one place regen uses `unsafe`: the `gemm` crate's product takes
//! raw pointers and strides, and regen's own small-product kernel is compiled for AVX-512
//! and AVX2 and chosen at run time, which Rust only lets safe code call through `unsafe`
//! once the CPU has been checked. Everything outside this module sees safe functions whose
//! matrices are slices with checked extents. It also holds regen's one call into glibc,
//! [`retain_freed_memory`].

#![allow(unsafe_code)]

use std::sync::OnceLock;

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
            let a: Vec<f32> = (0..k * lda).map(|_| rng.normal() as f32).collect();
            let b: Vec<f32> = (0..k * ldb).map(|_| rng.normal() as f32).collect();
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
            let a: Vec<f32> = (0..m * lda).map(|_| rng.normal() as f32).collect();
            let b: Vec<f32> = (0..k.max(1) * ldb).map(|_| rng.normal() as f32).collect();
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
            let a: Vec<f32> = (0..k * lda).map(|_| rng.normal() as f32).collect();
            let b: Vec<f32> = (0..k * ldb).map(|_| rng.normal() as f32).collect();
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
            let a: Vec<f32> = (0..m * lda).map(|_| rng.normal() as f32).collect();
            let b: Vec<f32> = (0..n * ldb).map(|_| rng.normal() as f32).collect();
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
