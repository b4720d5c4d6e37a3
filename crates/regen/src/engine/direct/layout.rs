//! Moving images between planes `[c, h, w]` and padded channel-last copies `[h, w, c]`,
//! sixteen channels at a time through register transposes.

use rayon::prelude::*;

use crate::engine::gemm::{Isa, transpose, transpose_into};
use crate::engine::geom::Act;
use crate::engine::im2col;

/// One image `x` `[c, h, w]` into `img` `[top + h + bottom, left + w + right, c]`, zeros
/// around.
fn channel_last(
    isa: Isa,
    x: &[f32],
    [c, h, w]: [usize; 3],
    [top, bottom, left, right]: [usize; 4],
    img: &mut [f32],
) {
    let wp = left + w + right;
    assert_eq!(img.len(), (top + h + bottom) * wp * c);
    let (head, rest) = img.split_at_mut(top * wp * c);
    let (body, tail) = rest.split_at_mut(h * wp * c);
    head.fill(0.0);
    tail.fill(0.0);
    // Bands of about 256 pixels: each read of a channel plane then takes 16 neighbouring
    // pixels, whole cache lines, and the band's destination stays in cache while every
    // channel block is written into it.
    let band = 256usize.div_ceil(w).clamp(1, h.max(1));
    let copy = |(bi, rows): (usize, &mut [f32])| {
        for row in rows.chunks_mut(wp * c) {
            row[..left * c].fill(0.0);
            row[(left + w) * c..].fill(0.0);
        }
        let nr = rows.len() / (wp * c);
        // Rows bi * band.. of every plane: [c, nr * w] with rows h * w apart; pixel j of the
        // band goes to its place in the padded rows.
        transpose_into(isa, &x[bi * band * w..], h * w, c, nr * w, rows, |j| {
            ((j / w) * wp + left + j % w) * c
        });
    };
    // A large image (one being restored) is copied by all the threads.
    if body.len() >= 1 << 20 {
        body.par_chunks_mut(band * wp * c)
            .enumerate()
            .for_each(copy);
    } else {
        body.chunks_mut(band * wp * c).enumerate().for_each(copy);
    }
}

/// One image's products `src` `[p, k]` (pixel-major) into `dst` `[k, p]` planes, adding
/// `bias[k]` and applying `act`.
pub(super) fn to_planes(
    isa: Isa,
    src: &[f32],
    [p, k]: [usize; 2],
    bias: Option<&[f32]>,
    act: Act,
    dst: &mut [f32],
) {
    assert_eq!(src.len(), p * k);
    assert_eq!(dst.len(), p * k);
    let block = |(kb, planes): (usize, &mut [f32])| {
        let k0 = kb * 16;
        let kn = planes.len() / p;
        transpose(isa, &src[k0..], k, p, kn, planes, p);
        // Plane j is channel k0 + j: the bias from k0 on, one per plane.
        im2col::finish(planes, p, kn, bias.map(|v| &v[k0..]), act);
    };
    // A large image's planes are shared out among the threads.
    if dst.len() >= 1 << 20 {
        dst.par_chunks_mut(16 * p).enumerate().for_each(block);
    } else {
        dst.chunks_mut(16 * p).enumerate().for_each(block);
    }
}

/// `x` `[n, c, h, w]` images `b0..b0 + nb` into `xin` as `nb` padded channel-last images.
pub(super) fn group_channel_last(
    isa: Isa,
    x: &[f32],
    [c, h, w]: [usize; 3],
    pads: [usize; 4],
    b0: usize,
    nb: usize,
    xin: &mut Vec<f32>,
) {
    let img = (pads[0] + h + pads[1]) * (pads[2] + w + pads[3]) * c;
    xin.resize(nb * img, 0.0);
    for (b, xi) in xin.chunks_mut(img).enumerate() {
        let chw = c * h * w;
        channel_last(isa, &x[(b0 + b) * chw..][..chw], [c, h, w], pads, xi);
    }
}
