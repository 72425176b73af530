"""``vaults qr``: QR images generated in the test by segno (PNG; JPEG via Pillow)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.core.conftest import one_error_line, run_vaults
from vaults.cli.main import cli

segno = pytest.importorskip("segno")
Image = pytest.importorskip("PIL.Image")
pytest.importorskip("zxingcpp")

URI = "otpauth://totp/Acme%20Co:alice%40acme.test?secret=JBSWY3DPEHPK3PXP&issuer=Acme%20Co"


def qr_png(path: Path, text: str) -> Path:
    segno.make(text, micro=False, error="m").save(str(path), kind="png", scale=6, border=4)
    return path


def test_qr_png(tmp_path: Path) -> None:
    result = run_vaults("qr", str(qr_png(tmp_path / "setup.png", URI)))
    assert (result.returncode, result.stdout, result.stderr) == (0, f"{URI}\n", "")


def test_qr_jpeg(tmp_path: Path) -> None:
    png = qr_png(tmp_path / "setup.png", URI)
    jpeg = tmp_path / "photo.jpg"
    with Image.open(png) as img:
        img.convert("RGB").save(jpeg, "JPEG", quality=85)
    result = CliRunner().invoke(cli, ["qr", str(jpeg)])
    assert (result.exit_code, result.stdout) == (0, f"{URI}\n")


def test_qr_otpauth_listed_first(tmp_path: Path) -> None:
    other = qr_png(tmp_path / "other.png", "https://example.test/not-a-secret")
    otp = qr_png(tmp_path / "otp.png", URI)
    with Image.open(other) as a, Image.open(otp) as b:
        a, b = a.convert("RGB"), b.convert("RGB")
        both = Image.new("RGB", (a.width + b.width + 40, max(a.height, b.height)), "white")
        both.paste(a, (0, 0))
        both.paste(b, (a.width + 40, 0))
    both.save(tmp_path / "both.png")
    result = CliRunner().invoke(cli, ["qr", str(tmp_path / "both.png")])
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [URI, "https://example.test/not-a-secret"]


def test_qr_no_code_exit_1(tmp_path: Path) -> None:
    Image.new("RGB", (200, 200), "white").save(tmp_path / "blank.png")
    result = run_vaults("qr", str(tmp_path / "blank.png"))
    assert result.returncode == 1
    assert "no QR code found in blank.png" in one_error_line(result.stderr)


@pytest.mark.parametrize("content", [b"hello, not an image", b"\x89PNG\r\n\x1a\n broken"])
def test_qr_not_an_image_exit_2(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "fake.png"
    path.write_bytes(content)
    result = run_vaults("qr", str(path))
    assert result.returncode == 2
    assert "not a readable PNG/JPEG image" in one_error_line(result.stderr)


def test_qr_missing_file_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["qr", str(tmp_path / "nope.png")])
    assert result.exit_code == 2
    assert "no such image file" in result.stderr
