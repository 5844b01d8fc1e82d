"""Photos uploaded by riders: size-capped while they arrive, checked by content, re-encoded, stored under a random
name, and served only to staff with safe headers (docs/security.md "Uploads").

A client-chosen name or Content-Type proves nothing: the bytes must decode as a JPEG, PNG or WebP image (Pillow),
and what is stored is a fresh JPEG encoded from the pixels, which drops every metadata block (EXIF with the GPS
position, XMP, comments) and anything appended to the original.
"""

from __future__ import annotations

import importlib
import io
import uuid
import warnings
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.utils.module_loading import module_has_submodule
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import DomainError

ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP"}
MAX_PIXELS = 40_000_000  # a 40 MP phone photo; larger dimensions are a decompression bomb, not a parking photo
JPEG_QUALITY = 85


class UploadTooLarge(DomainError):
    code, status, message = "upload_too_large", 413, "The file is larger than the upload limit."


class UploadTypeUnsupported(DomainError):
    code, status, message = "upload_type_unsupported", 415, "Upload a photo: a JPEG, PNG or WebP image."


def max_bytes() -> int:
    return int(settings.UPLOAD_MAX_BYTES)


class LimitedUploadHandler(FileUploadHandler):
    """First upload handler of the API's multipart parser: stops reading a file once it passes
    ``UPLOAD_MAX_BYTES`` instead of spooling all of it to a temporary file first."""

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > max_bytes():
            raise UploadTooLarge(limit_bytes=max_bytes())
        return raw_data  # passed on to the next handler (memory or temporary file)

    def file_complete(self, file_size: int) -> None:
        return None


def image_clean(upload: UploadedFile) -> ContentFile[bytes]:
    """The photo re-encoded as a JPEG without metadata, under a random name; raises ``UploadTooLarge`` or
    ``UploadTypeUnsupported``. CPU-bound (decode and encode): call it before taking row locks."""
    if upload.size is not None and upload.size > max_bytes():
        raise UploadTooLarge(limit_bytes=max_bytes())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            upload.seek(0)
            with Image.open(upload) as probe:
                if probe.format not in ACCEPTED_FORMATS or probe.width * probe.height > MAX_PIXELS:
                    raise UploadTypeUnsupported()
                probe.verify()  # structure and checksums, without decoding the pixels
            upload.seek(0)
            with Image.open(upload) as image:
                upright = ImageOps.exif_transpose(image)  # keep the orientation the EXIF block we drop gave it
                out = io.BytesIO()
                upright.convert("RGB").save(out, format="JPEG", quality=JPEG_QUALITY)
    except (UnidentifiedImageError, Image.DecompressionBombWarning, Image.DecompressionBombError,
            OSError, SyntaxError, ValueError, EOFError):
        raise UploadTypeUnsupported() from None
    return ContentFile(out.getvalue(), name=f"{uuid.uuid4().hex}.jpg")


def media_permissions() -> dict[str, str]:
    """``MEDIA_PERMISSIONS`` of every installed app's ``roles`` module: upload folder -> permission to read it."""
    merged: dict[str, str] = {}
    for config in apps.get_app_configs():
        if config.module is not None and module_has_submodule(config.module, "roles"):
            merged.update(getattr(importlib.import_module(f"{config.name}.roles"), "MEDIA_PERMISSIONS", {}))
    return merged


def media_permission(name: str) -> str | None:
    """The permission that lets staff read the stored file ``name``; None for a name outside every folder."""
    if not name or name.startswith("/") or "\\" in name or ".." in name.split("/"):
        return None
    return next((perm for folder, perm in media_permissions().items() if name.startswith(folder)), None)


def media_headers(name: str) -> dict[str, str]:
    """What a stored file is served with: a photo we wrote as image/jpeg, inline; anything else (a file stored
    before uploads were checked) as a download. The browser never sniffs it into HTML, and nothing in it runs."""
    photo = name.lower().endswith((".jpg", ".jpeg"))
    filename = name.rsplit("/", 1)[-1]
    return {
        "Content-Type": "image/jpeg" if photo else "application/octet-stream",
        "Content-Disposition": f'{"inline" if photo else "attachment"}; filename="{filename}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, no-store",
        "Cross-Origin-Resource-Policy": "same-origin",
    }
