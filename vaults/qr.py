"""Decode 2FA setup QR codes (optional extra ``vaults[qr]``: zxing-cpp and Pillow)."""

from __future__ import annotations

from pathlib import Path

from vaults.errors import ConfigurationError, InvalidInput, NoCode

__all__ = ["decode_qr"]


def decode_qr(path: str | Path) -> list[str]:
    """The texts of every QR code in the image at ``path`` (``otpauth://`` URIs first).

    Raises :class:`~vaults.errors.InvalidInput` for a missing or unreadable image and
    :class:`~vaults.errors.NoCode` when the image holds no QR code.
    """
    try:
        import zxingcpp
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise ConfigurationError(
            "decoding QR codes needs the optional extra: pip install 'vaults[qr]'"
        ) from None
    file = Path(path)
    if not file.is_file():
        raise InvalidInput(f"no such image file: {file}")
    try:
        with Image.open(file) as img:
            img.load()
            results = zxingcpp.read_barcodes(img.convert("RGB"))
    except (UnidentifiedImageError, OSError) as exc:
        raise InvalidInput(
            f"{file.name} is not a readable PNG/JPEG image ({exc.__class__.__name__})"
        ) from None
    texts = [r.text for r in results if r.format == zxingcpp.BarcodeFormat.QRCode and r.text]
    if not texts:
        raise NoCode(f"no QR code found in {file.name}")
    texts.sort(key=lambda t: not t.lower().startswith("otpauth://"))
    return texts
