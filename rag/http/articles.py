"""`/v1/articles`: list, add (pasted text, a URL, an uploaded file), read and remove articles."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.errors import IngestError
from rag.http.deps import AssistantDep
from rag.http.schemas import ArticleIn, PastedArticle, UrlArticle, errors
from rag.types import ArticleInfo

router = APIRouter(prefix="/v1", tags=["articles"])

_UPLOAD_SCHEMA = {
    "type": "object",
    "properties": {
        "file": {"type": "string", "format": "binary"},
        "source": {
            "type": "string",
            "minLength": 1,
            "maxLength": 2000,
            "pattern": r"\S",
            "description": "The article's identity label (default upload:<file name>); the same source "
            "again updates or skips it. Never read as a path.",
        },
    },
    "required": ["file"],
}


@router.get("/articles", responses=errors(401))
def list_articles(assistant: AssistantDep) -> dict[str, list[ArticleInfo]]:
    """The indexed articles with their chunk counts."""
    return {"articles": assistant.articles()}


@router.post(
    "/articles",
    responses=errors(400, 401, 413, 422, 503),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"oneOf": [PastedArticle.model_json_schema(), UrlArticle.model_json_schema()]}
                },
                "multipart/form-data": {"schema": _UPLOAD_SCHEMA},
            },
        }
    },
)
async def add_article(request: Request, assistant: AssistantDep):
    """Index pasted text, a URL, or an uploaded file (.txt, .md, .html, .pdf).

    Returns how many articles were added, updated (changed) and skipped (unchanged), and the
    full report. A bad article is a 4xx error and changes nothing in the index.
    """
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        data, filename, source = await _read_upload(request, assistant)
        report = await run_in_threadpool(assistant.index_bytes, data, filename, source=source)
    else:
        article = _parse_article(await request.body())
        if article.url is not None:
            report = await run_in_threadpool(assistant.index_url, article.url)
        else:
            assistant.check_upload_size(len(article.text.encode("utf-8")), "The text")
            # An explicit id names the article: posting it again replaces it, whatever its title.
            report = await run_in_threadpool(
                assistant.index_text, article.text, title=article.title, article_id=article.id,
                source=f"pasted:{article.id}" if article.id else None,
            )
    if report.failed and not (report.added or report.updated or report.skipped):
        raise IngestError(report.failed[0][1])
    return {
        "added": len(report.added),
        "updated": len(report.updated),
        "skipped": len(report.skipped),
        "report": report.as_dict(),
    }


@router.get("/articles/{article_id}", responses=errors(401, 404))
def get_article(article_id: str, assistant: AssistantDep):
    """One article: its text, and its chunks with their offsets into the text."""
    article = assistant.article(article_id)
    chunks = assistant.chunks(article_id)
    return {
        "id": article.id,
        "title": article.title,
        "source": article.source,
        "content_hash": article.content_hash,
        "text": article.text,
        "chunks": [
            {"id": c.id, "index": c.index, "start": c.start, "end": c.end, "text": c.text} for c in chunks
        ],
    }


@router.delete("/articles/{article_id}", responses=errors(401, 404, 503))
def delete_article(article_id: str, assistant: AssistantDep):
    """Remove an article and all its chunks."""
    report = assistant.remove(article_id)
    return {"removed": len(report.removed), "report": report.as_dict()}


def _parse_article(raw: bytes) -> ArticleIn:
    """The JSON body of POST /v1/articles (parsed here: the route also takes multipart)."""
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StarletteHTTPException(
            422,
            f"The request body is not valid JSON ({exc}): send {{\"text\": ..., \"title\": ...}} or "
            "{\"url\": ...} as JSON, or a multipart upload with a 'file' field.",
        ) from None
    try:
        return ArticleIn.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False, include_context=False)) from None


async def _read_upload(request: Request, assistant) -> tuple[bytes, str, str | None]:
    """The bytes, name and optional `source` of the multipart `file` field (at most the upload limit).

    `source` is the article's identity: uploading again with the same source replaces or skips
    that article. Without it the source is `upload:<file name>`.
    """
    form = await request.form()
    try:
        files = [v for k, v in form.multi_items() if isinstance(v, UploadFile)]
        if len(files) != 1 or not isinstance(form.get("file"), UploadFile):
            raise IngestError("Send exactly one file, in the multipart field 'file'.")
        source = form.get("source")
        if source is not None and (not isinstance(source, str) or not source.strip() or len(source) > 2000):
            raise IngestError("The 'source' field must be a non-empty text of at most 2,000 characters.")
        upload = files[0]
        size = upload.size  # counted by Starlette while it parsed the form
        if size is None:
            size = len(await upload.read())
            await upload.seek(0)
        assistant.check_upload_size(size, f"'{upload.filename}'")
        data = await upload.read()
        return data, upload.filename or "upload.txt", source
    finally:
        await form.close()
