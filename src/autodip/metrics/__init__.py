"""Image quality: full-reference (PSNR, SSIM), no-reference (BRISQUE, NIQE) and JPEG size."""
