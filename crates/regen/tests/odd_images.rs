//! The odd-image corpus (`tests/fixtures/odd/`, written by its `make.py`): every colour type
//! and depth of PNG, BMP and TIFF regen reads, interlaced PNG, grey, progressive, CMYK and
//! arithmetic-coded JPEGs, all eight EXIF orientations, multi-page and tiled planar TIFFs,
//! one-pixel and zero-size images, headers
//! declaring 40000 x 40000 over a few bytes, and files that are not images, each also cut
//! at every tenth of its length. Each either restores with the shipped denoiser or is
//! refused with one line; never a panic or an allocation past the pixel limit.

use std::path::Path;

use regen::data::Image;
use regen::restore::Restorer;

/// What loading `name` must give: its upright size, or the start of its refusal.
fn expected(name: &str) -> Option<Result<(usize, usize, usize), &'static str>> {
    Some(match name {
        "gray8.png" | "bilevel.png" | "gray16.png" | "gray.jpg" | "gray16.tif" => Ok((1, 40, 30)),
        "gray-alpha.png" => Ok((2, 40, 30)),
        "rgba8.png" | "palette-transparent.png" | "rgba.tif" => Ok((4, 40, 30)),
        "rgb420.jpg" | "rgb444.jpg" | "progressive.jpg" | "cmyk.jpg" | "rgb24.bmp"
        | "bilevel.bmp" | "palette4.bmp" | "rgba32.bmp" | "palette8.bmp" | "palette-2bit.png"
        | "with-icc.png" | "multipage.tif" | "interlaced.png" => Ok((3, 40, 30)),
        n if n.starts_with("rgb-") => Ok((3, 40, 30)),
        // Orientations 5 to 8 turn the picture a quarter: 30 wide, 40 tall.
        n if n.starts_with("orientation-") => {
            let o: u32 = n[12..13].parse().unwrap();
            Ok(if o >= 5 { (3, 30, 40) } else { (3, 40, 30) })
        }
        "one-pixel.png" => Ok((1, 1, 1)),
        "one-column.png" => Ok((3, 1, 37)),
        // The TIFF's strip sizes no longer match, which its decoder notices first.
        "huge-header.tif" => Err("cannot decode Tiff image: Format error"),
        n if n.starts_with("huge-header") => Err("40000 x 40000 pixels is more than the limit"),
        "tiled-planar-rgb16-37x21.tif" => Err("cannot decode Tiff image: the decoder failed"),
        "empty.png" | "text.jpg" | "random.tif" => Err("not an image regen can read"),
        "zero-size.png" => Err("cannot decode Png image"),
        "arithmetic.jpg" => Err("an arithmetic-coded JPEG"),
        _ => return None,
    })
}

#[test]
fn each_odd_image_restores_or_is_refused_in_one_line() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/odd");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".py"))
        .collect();
    names.sort();
    assert!(names.len() >= 40, "{names:?}");
    let model = Restorer::load("denoise").unwrap();
    let (mut restored, mut refused) = (0, 0);
    let mut wrong = Vec::new();
    for name in &names {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let whole = Image::decode(&bytes);
        match (expected(name), &whole) {
            (Some(Ok(shape)), Ok(img)) if (img.channels, img.width, img.height) == shape => {}
            (Some(Err(start)), Err(e)) if e.contains(start) => {}
            (want, got) => wrong.push(format!(
                "{name}: expected {want:?}, got {:?}",
                got.as_ref().map(|i| (i.channels, i.width, i.height))
            )),
        }
        for tenth in 0..=10 {
            match Image::decode(&bytes[..bytes.len() * tenth / 10]) {
                Ok(img) => {
                    let out = model.restore(&img, &Default::default());
                    assert_eq!(
                        (out.channels, out.width, out.height),
                        (img.channels, img.width, img.height)
                    );
                    assert!(
                        out.data.iter().all(|v| v.is_finite()),
                        "{name} at {tenth}/10"
                    );
                    restored += 1;
                }
                Err(e) => {
                    assert!(
                        !e.contains('\n') && !e.is_empty(),
                        "{name} at {tenth}/10: {e:?}"
                    );
                    refused += 1;
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    println!(
        "{} files, {} inputs with the cuts: {restored} restored, {refused} refused",
        names.len(),
        restored + refused
    );
}
