"""The multipart body of `POST /imports`, read as a stream: the file is spooled to disk (never
held in memory) and refused with 413 as soon as it passes the configured size."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from spendlens.auth.dependencies import SettingsDep
from spendlens.errors import PayloadTooLarge, Unprocessable
from spendlens.imports.schemas import (
    ColumnMapping,
    FileEncoding,
    ImportFormat,
    ImportKind,
    ImportMode,
)
from spendlens.imports.service import ImportOptions


class ImportForm(BaseModel):
    """The form fields next to `file`."""

    model_config = ConfigDict(extra="forbid")

    kind: ImportKind = ImportKind.transactions
    format: ImportFormat = ImportFormat.native_csv
    mode: ImportMode = ImportMode.all_or_nothing
    dry_run: bool = False
    mapping: ColumnMapping | None = None
    encoding: FileEncoding = FileEncoding.utf_8
    filename: str = Field(default="upload", max_length=255)

    @field_validator("mapping", mode="before")
    @classmethod
    def _mapping_json(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                return None
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"mapping is not valid JSON: {exc.msg}")
        return value


class ImportUpload:
    """The parsed request: the options and the spooled file."""

    def __init__(self, options: ImportOptions, file: UploadFile) -> None:
        self.options = options
        self.file = file


async def _limited(request: Request, limit: int) -> AsyncIterator[bytes]:
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise PayloadTooLarge(f"The upload is larger than {limit:,} bytes")
        yield chunk


async def read_import_upload(
    request: Request, settings: SettingsDep
) -> AsyncIterator[ImportUpload]:
    limit = settings.max_upload_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The upload is larger than {limit:,} bytes")
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise Unprocessable("Send the file as multipart/form-data", loc=("body",))
    parser = MultiPartParser(request.headers, _limited(request, limit), max_files=1, max_fields=20)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise Unprocessable(f"The multipart body is invalid: {exc.message}", loc=("body",))
    upload = form.get("file")
    try:
        if not isinstance(upload, UploadFile):
            raise Unprocessable("The form has no `file`", loc=("body", "file"))
        fields = {key: value for key, value in form.items() if key != "file"}
        fields.setdefault("filename", upload.filename or "upload")
        try:
            parsed = ImportForm.model_validate(fields)
        except ValidationError as exc:
            raise RequestValidationError(
                [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
            )
        options = ImportOptions(
            kind=parsed.kind,
            format=parsed.format,
            mode=parsed.mode,
            dry_run=parsed.dry_run,
            mapping=parsed.mapping,
            encoding=parsed.encoding,
            filename=parsed.filename,
        )
        yield ImportUpload(options, upload)
    finally:
        await form.close()


ImportUploadDep = Annotated[ImportUpload, Depends(read_import_upload)]
