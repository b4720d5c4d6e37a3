//! Small line plots written as PNG, so a run's loss and validation curves can be looked at
//! without any plotting stack. Text uses a built-in 5x7 pixel font.

use std::path::Path;

use crate::data::Image;
use crate::error::Result;

/// One panel: a title and (x, y) points drawn as a line.
pub struct Panel<'a> {
    /// Shown above the panel.
    pub title: &'a str,
    /// Points in drawing order.
    pub points: &'a [(f64, f64)],
    /// Plot log10(y) instead of y.
    pub log_y: bool,
}

const W: usize = 640;
const PANEL_H: usize = 240;
const LEFT: usize = 70;
const RIGHT: usize = 20;
const TOP: usize = 24;
const BOTTOM: usize = 30;

/// Draws the panels one above the other and saves the PNG atomically.
pub fn save(path: &Path, panels: &[Panel]) -> Result<()> {
    let h = PANEL_H * panels.len().max(1);
    let mut img = Image::zeros(3, h, W);
    img.data.fill(1.0);
    for (i, p) in panels.iter().enumerate() {
        draw_panel(&mut img, i * PANEL_H, p);
    }
    img.save(path)
}

fn draw_panel(img: &mut Image, y0: usize, p: &Panel) {
    let (px0, px1) = (LEFT, W - RIGHT);
    let (py0, py1) = (y0 + TOP, y0 + PANEL_H - BOTTOM);
    text(img, px0, y0 + 8, p.title, [0.0, 0.0, 0.0]);
    let grey = [0.6, 0.6, 0.6];
    for x in px0..=px1 {
        set(img, x, py0, grey);
        set(img, x, py1, grey);
    }
    for y in py0..=py1 {
        set(img, px0, y, grey);
        set(img, px1, y, grey);
    }
    let pts: Vec<(f64, f64)> = p
        .points
        .iter()
        .map(|&(x, y)| (x, if p.log_y { y.max(1e-12).log10() } else { y }))
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    if pts.is_empty() {
        return;
    }
    let (mut xmin, mut xmax, mut ymin, mut ymax) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in &pts {
        xmin = xmin.min(x);
        xmax = xmax.max(x);
        ymin = ymin.min(y);
        ymax = ymax.max(y);
    }
    if xmax <= xmin {
        xmax = xmin + 1.0;
    }
    if ymax <= ymin {
        ymax = ymin + 1.0;
    }
    let sx = |x: f64| px0 as f64 + (x - xmin) / (xmax - xmin) * (px1 - px0) as f64;
    let sy = |y: f64| py1 as f64 - (y - ymin) / (ymax - ymin) * (py1 - py0) as f64;
    let label = |v: f64| {
        if p.log_y {
            format!("{:.1E}", 10f64.powf(v))
        } else {
            format!("{v:.2}")
        }
    };
    let black = [0.0, 0.0, 0.0];
    text(img, 2, py0, &label(ymax), black);
    text(img, 2, py1 - 7, &label(ymin), black);
    text(img, px0, py1 + 6, &format!("{xmin:.0}"), black);
    let xl = format!("STEP {xmax:.0}");
    text(img, px1.saturating_sub(6 * xl.len()), py1 + 6, &xl, black);
    let blue = [0.1, 0.3, 0.8];
    for w in pts.windows(2) {
        line(
            img,
            (sx(w[0].0), sy(w[0].1)),
            (sx(w[1].0), sy(w[1].1)),
            blue,
        );
    }
    if pts.len() == 1 {
        set(img, sx(pts[0].0) as usize, sy(pts[0].1) as usize, blue);
    }
}

fn set(img: &mut Image, x: usize, y: usize, rgb: [f32; 3]) {
    if x < img.width && y < img.height {
        let n = img.width * img.height;
        for (c, v) in rgb.iter().enumerate() {
            img.data[c * n + y * img.width + x] = *v;
        }
    }
}

fn line(img: &mut Image, a: (f64, f64), b: (f64, f64), rgb: [f32; 3]) {
    let steps = ((b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil() as usize).max(1);
    for i in 0..=steps {
        let t = i as f64 / steps as f64;
        let x = a.0 + (b.0 - a.0) * t;
        let y = a.1 + (b.1 - a.1) * t;
        set(img, x.round() as usize, y.round() as usize, rgb);
    }
}

/// Rows of a 5x7 glyph, top first, bit 4 the leftmost pixel.
fn glyph(c: char) -> [u8; 7] {
    match c.to_ascii_uppercase() {
        '0' => [14, 17, 19, 21, 25, 17, 14],
        '1' => [4, 12, 4, 4, 4, 4, 14],
        '2' => [14, 17, 1, 2, 4, 8, 31],
        '3' => [31, 2, 4, 2, 1, 17, 14],
        '4' => [2, 6, 10, 18, 31, 2, 2],
        '5' => [31, 16, 30, 1, 1, 17, 14],
        '6' => [6, 8, 16, 30, 17, 17, 14],
        '7' => [31, 1, 2, 4, 8, 8, 8],
        '8' => [14, 17, 17, 14, 17, 17, 14],
        '9' => [14, 17, 17, 15, 1, 2, 12],
        '.' => [0, 0, 0, 0, 0, 12, 12],
        '-' => [0, 0, 0, 31, 0, 0, 0],
        '+' => [0, 4, 4, 31, 4, 4, 0],
        '(' => [2, 4, 8, 8, 8, 4, 2],
        ')' => [8, 4, 2, 2, 2, 4, 8],
        'A' => [14, 17, 17, 31, 17, 17, 17],
        'B' => [30, 17, 17, 30, 17, 17, 30],
        'C' => [14, 17, 16, 16, 16, 17, 14],
        'D' => [28, 18, 17, 17, 17, 18, 28],
        'E' => [31, 16, 16, 30, 16, 16, 31],
        'G' => [14, 17, 16, 23, 17, 17, 15],
        'I' => [14, 4, 4, 4, 4, 4, 14],
        'L' => [16, 16, 16, 16, 16, 16, 31],
        'M' => [17, 27, 21, 21, 17, 17, 17],
        'N' => [17, 17, 25, 21, 19, 17, 17],
        'O' => [14, 17, 17, 17, 17, 17, 14],
        'P' => [30, 17, 17, 30, 16, 16, 16],
        'R' => [30, 17, 17, 30, 20, 18, 17],
        'S' => [15, 16, 16, 14, 1, 1, 30],
        'T' => [31, 4, 4, 4, 4, 4, 4],
        'U' => [17, 17, 17, 17, 17, 17, 14],
        'V' => [17, 17, 17, 17, 17, 10, 4],
        'X' => [17, 17, 10, 4, 10, 17, 17],
        _ => [0; 7],
    }
}

fn text(img: &mut Image, x0: usize, y0: usize, s: &str, rgb: [f32; 3]) {
    for (i, ch) in s.chars().enumerate() {
        let g = glyph(ch);
        for (r, bits) in g.iter().enumerate() {
            for c in 0..5 {
                if bits & (16 >> c) != 0 {
                    set(img, x0 + i * 6 + c, y0 + r, rgb);
                }
            }
        }
    }
}
