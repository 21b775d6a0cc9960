//! Resizes image files in parallel with a [`Pool`], reading and writing real PNG files
//! with the `image` crate.
//!
//! Mirrors seed 000's "Parallel Image Processing" (`process_image` opens a file, resizes
//! it to 800x600 and saves it as `NAME_processed.EXT`; `batch_process_images` maps it over
//! the paths on a pool of 4; errors come back as text).
//!
//! `cargo run -p multiproc --example image_resize_parallel`
//!
//! Differs from Python: PIL becomes the `image` crate, and the inputs are PNG files that
//! the example draws first in a fresh temporary directory (removed at the end), not
//! JPEGs of yours. A fourth path names a file that does not exist, to show the error
//! branch. Each result is a `Result<String, String>` rather than one string for both
//! outcomes, so the caller can tell them apart.

multiproc::setup!();

use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use image::{Rgb, RgbImage};
use multiproc::prelude::*;

/// Resizes one image to 800x600 and saves it beside the original.
fn process_image(image_path: PathBuf) -> Result<String, String> {
    let fail =
        |e: &dyn std::fmt::Display| format!("Error processing {}: {e}", image_path.display());
    let img = image::open(&image_path).map_err(|e| fail(&e))?;
    let img_resized = img.resize_exact(800, 600, FilterType::Triangle);

    let stem = image_path.file_stem().unwrap_or_default().to_string_lossy();
    let ext = image_path.extension().unwrap_or_default().to_string_lossy();
    let output_path = image_path.with_file_name(format!("{stem}_processed.{ext}"));
    img_resized.save(&output_path).map_err(|e| fail(&e))?;

    Ok(format!(
        "Processed: {} -> {}",
        image_path.display(),
        output_path.display()
    ))
}

fn batch_process_images(
    image_paths: Vec<PathBuf>,
    num_processes: usize,
) -> Result<Vec<Result<String, String>>, PoolError> {
    let pool = Pool::new(num_processes)?;
    pool.map(process_image, image_paths)
}

/// Draws a small gradient image, so that there is something to resize.
fn draw_input(path: &Path, shade: u8) -> image::ImageResult<()> {
    RgbImage::from_fn(64, 48, |x, y| Rgb([x as u8 * 4, y as u8 * 5, shade])).save(path)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("multiproc-images-{}", std::process::id()));
    std::fs::create_dir(&dir)?;
    let run = || -> Result<(), Box<dyn std::error::Error>> {
        let mut image_paths = Vec::new();
        for (i, shade) in [(1, 0), (2, 128), (3, 255)] {
            let path = dir.join(format!("image{i}.png"));
            draw_input(&path, shade)?;
            image_paths.push(path);
        }
        image_paths.push(dir.join("missing.png"));

        for result in batch_process_images(image_paths.clone(), 4)? {
            match result {
                Ok(done) | Err(done) => println!("{done}"),
            }
        }

        // Check the outputs: real PNG files of the requested size.
        for path in &image_paths[..3] {
            let out = path.with_file_name(format!(
                "{}_processed.png",
                path.file_stem().unwrap_or_default().to_string_lossy()
            ));
            let (w, h) = image::image_dimensions(&out)?;
            println!(
                "{}: {w}x{h}",
                out.file_name().unwrap_or_default().to_string_lossy()
            );
        }
        Ok(())
    };
    let result = run();
    std::fs::remove_dir_all(&dir)?;
    result
}
