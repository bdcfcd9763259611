"""The routes of ``autodip serve`` (FastAPI) and the access token every request must carry.

The page and its API, all under one token (:class:`TokenGate`), no CORS headers (so no other
site's script may read an answer):

========================================  =======================================================
``GET /``                                 the page (``?token=`` also sets a same-site cookie)
``GET /static/{app.js,style.css}``        its script and style sheet
``GET /api/info``                         device, networks, criteria, task defaults, limits
``POST /api/uploads?name=``               an image (the raw file as the body) -> its description
``GET /api/uploads/{id}/preview.png``     what the browser shows of it
``POST /api/uploads/{id}/mask?name=``     a mask file for it -> the mask as a PNG (white = known)
``POST /api/jobs``                        start a job (JSON: :class:`StartRequest`)
``GET /api/jobs``, ``/api/jobs/{id}``     the queue, one job
``GET /api/jobs/{id}/events``             its events, as Server-Sent Events
``POST /api/jobs/{id}/{stop,cancel,continue}``  stop with the best so far, drop, resume
``GET /api/jobs/{id}/{input,estimate,result}.png``  previews: the input (inpainting: the pixels
                                          to fill in red), the current estimate, the result
``GET /api/jobs/{id}/result``             the result file (the input's format and bit depth)
``GET /api/jobs/{id}/report.html``        the run's report
========================================  =======================================================

A token may come as the ``X-Autodip-Token`` header, the ``token`` query parameter or the
``autodip_token`` cookie; a missing one is answered 401, a wrong one 403.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import secrets
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import HTTPConnection

from autodip.defaults import MAX_ENSEMBLE, SEED
from autodip.serve.jobs import Job, JobOptions, JobQueue, JobStateError
from autodip.serve.media import Upload, UploadError, mask_to_png, read_mask, read_upload

#: The largest upload accepted by default (``autodip serve --max-upload``).
MAX_UPLOAD_BYTES = 256 * 1024**2
#: The cookie that carries the token once the page is open.
COOKIE = "autodip_token"
#: The page's files (in ``static/``) and their types.
STATIC = {"app.js": "text/javascript", "style.css": "text/css"}
#: The page may load only its own files; nothing may frame it.
PAGE_POLICY = (
    "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
#: Uploads kept for new jobs (the oldest go first; a job keeps its own).
MAX_UPLOADS = 64
#: Seconds between two looks at a job for new events, and between two keep-alive comments.
EVENT_POLL_SECONDS = 0.2
KEEPALIVE_SECONDS = 15.0


class StartRequest(BaseModel):
    """What the page sends to start a job: the upload, the task and the command line's options.

    ``mask`` is a PNG (base64, optionally as a ``data:`` URL), white = known pixel, of the image's
    size; only inpainting uses it. ``None`` leaves an option at the task's default.
    """

    model_config = ConfigDict(extra="forbid")

    upload: str
    task: Literal["denoise", "inpaint", "sr"]
    factor: int = Field(2, ge=2, le=8)
    mask: str | None = None
    net: str | None = None
    width: int | None = Field(None, ge=1, le=1024)
    stop: str | None = None
    patience: int | None = Field(None, ge=1)
    iters: int | None = Field(None, ge=1, le=1_000_000)
    seed: int = Field(SEED, ge=0, le=2**32 - 1)
    ensemble: int | None = Field(None, ge=1, le=MAX_ENSEMBLE)
    ensemble_transforms: Literal["none", "dihedral"] = "none"
    tiling: Literal["auto", "none"] = "auto"


@dataclass
class ServeState:
    """What the routes share: the temporary folder, the token, the uploads and the queue."""

    folder: Path
    token: str
    queue: JobQueue
    max_upload: int = MAX_UPLOAD_BYTES
    uploads: dict[str, Upload] = field(default_factory=dict)

    def upload(self, upload_id: str) -> Upload:
        """The upload ``upload_id`` (404 when there is none)."""
        found = self.uploads.get(upload_id)
        if found is None:
            raise HTTPException(404, f"no upload {upload_id!r} on this server")
        return found

    def job(self, job_id: str) -> Job:
        """The job ``job_id`` (404 when there is none)."""
        found = self.queue.jobs.get(job_id)
        if found is None:
            raise HTTPException(404, f"no job {job_id!r} on this server")
        return found


class TokenGate:
    """ASGI middleware: refuse any request without the server's token, and any body declared
    larger than the upload limit; set the token's cookie when it came in the URL.
    """

    def __init__(self, app: Any, token: str, max_body: int) -> None:
        self.app = app
        self.token = token
        self.max_body = max_body

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Pass a request on only with the token (and a body within the limit)."""
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        given = (
            connection.headers.get("x-autodip-token")
            or connection.query_params.get("token")
            or connection.cookies.get(COOKIE)
        )
        refusal = self._refusal(given, connection.headers.get("content-length"))
        if refusal is not None and scope["type"] == "websocket":  # the page uses none
            await send({"type": "websocket.close", "code": 1008})
            return
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        from_url = connection.query_params.get("token") is not None
        await self.app(scope, receive, self._with_headers(send, set_cookie=from_url))

    def _refusal(self, given: str | None, length: str | None) -> Response | None:
        if not given:
            return _refuse(
                401,
                "this server needs its access token: open the address that `autodip serve` "
                "printed (it ends in ?token=...)",
            )
        if not secrets.compare_digest(given.encode(), self.token.encode()):
            return _refuse(403, "wrong access token: use the address `autodip serve` printed")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            return _refuse(413, too_large(self.max_body))
        return None

    def _with_headers(self, send: Any, set_cookie: bool) -> Any:
        cookie = f"{COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict"

        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cache-control", b"no-store"),
                ]
                if set_cookie:
                    headers.append((b"set-cookie", cookie.encode()))
                message = {**message, "headers": headers}
            await send(message)

        return sending


def _refuse(status: int, detail: str) -> Response:
    return JSONResponse({"detail": detail}, status_code=status)


def too_large(limit: int) -> str:
    """The message for an upload over ``limit`` bytes."""
    return (
        f"the file is larger than this server's upload limit of {limit / 1024**2:.0f} MiB "
        "(autodip serve --max-upload)"
    )


def create_app(
    folder: Path,
    token: str,
    *,
    device: str = "auto",
    precision: str = "auto",
    max_upload: int = MAX_UPLOAD_BYTES,
) -> FastAPI:
    """The server's application: the page, its API and a :class:`JobQueue` on ``device``.

    ``folder`` holds the uploads' temporary files, the jobs' results and reports; the caller
    removes it (``autodip serve`` does on exit). The queue is closed when the application shuts
    down.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     app = create_app(Path(folder), "secret", device="cpu")
    ...     app.state.serve.queue.close()
    """
    state = ServeState(folder, token, JobQueue(folder, device, precision), max_upload)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        yield
        await run_in_threadpool(state.queue.close)

    app = FastAPI(title="autodip serve", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.serve = state
    app.add_middleware(TokenGate, token=token, max_body=max_upload + max_upload // 2 + 65536)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    _add_page_routes(app)
    _add_upload_routes(app, state)
    _add_job_routes(app, state)
    _add_file_routes(app, state)
    return app


async def _invalid_request(request: Request, error: Exception) -> Response:
    """A malformed request as one readable line (400), not FastAPI's nested 422 detail."""
    problems = []
    for item in getattr(error, "errors", list)():
        where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
        problems.append(f"{where}: {item.get('msg')}" if where else str(item.get("msg")))
    return _refuse(400, "; ".join(problems) or "malformed request")


def _static(name: str) -> bytes:
    return (resources.files("autodip.serve") / "static" / name).read_bytes()


def _add_page_routes(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    def page() -> Response:
        return Response(
            _static("index.html"),
            media_type="text/html; charset=utf-8",
            headers={"content-security-policy": PAGE_POLICY},
        )

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        if name not in STATIC:
            raise HTTPException(404, f"no file {name!r}")
        return Response(_static(name), media_type=f"{STATIC[name]}; charset=utf-8")

    @app.get("/api/info")
    def info() -> dict[str, Any]:
        return _info(app.state.serve)


def _info(state: ServeState) -> dict[str, Any]:
    from autodip import __version__
    from autodip.defaults import AUTO_TILE, AUTO_TILE_PIXELS, TASK_DEFAULTS
    from autodip.nets import list_nets
    from autodip.stopping import list_criteria

    criteria = {
        name: {
            "tasks": list(kind.tasks) if kind.tasks is not None else None,
            "channels": list(kind.channels) if kind.channels is not None else None,
            "about": (kind.__doc__ or "").strip().splitlines()[0],
        }
        for name, kind in list_criteria().items()
        if not kind.needs_reference
    }
    return {
        "version": __version__,
        "device": state.queue.device,
        "max_upload": state.max_upload,
        "nets": list_nets(),
        "criteria": criteria,
        "defaults": {
            task: {
                "iters": d.iters,
                "stop": d.stop,
                "patience": d.describe_patience(),
                "width": d.describe_width(),
                "ensemble": d.ensemble,
                "tile": AUTO_TILE if d.auto_tile else None,
                "tile_from_pixels": AUTO_TILE_PIXELS if d.auto_tile else None,
            }
            for task, d in TASK_DEFAULTS.items()
        },
    }


async def _body(request: Request, limit: int) -> bytes:
    """The request's body, refused (413) as soon as it passes ``limit`` bytes."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, too_large(limit))
        chunks.append(chunk)
    return b"".join(chunks)


def _add_upload_routes(app: FastAPI, state: ServeState) -> None:
    @app.post("/api/uploads", status_code=201)
    async def upload(request: Request, name: str = "image") -> dict[str, Any]:
        data = await _body(request, state.max_upload)
        try:
            received = await run_in_threadpool(read_upload, state.folder, name, data)
        except UploadError as error:
            raise HTTPException(400, str(error)) from None
        state.uploads[received.id] = received
        while len(state.uploads) > MAX_UPLOADS:
            state.uploads.pop(next(iter(state.uploads)))
        return received.describe()

    @app.get("/api/uploads/{upload_id}/preview.png")
    def preview(upload_id: str) -> Response:
        return Response(state.upload(upload_id).preview, media_type="image/png")

    @app.post("/api/uploads/{upload_id}/mask")
    async def mask_file(upload_id: str, request: Request, name: str = "mask") -> Response:
        image = state.upload(upload_id)
        data = await _body(request, state.max_upload)
        size = image.pixels.shape[1:]
        try:
            mask = await run_in_threadpool(read_mask, state.folder, name, data, size)
        except UploadError as error:
            raise HTTPException(400, str(error)) from None
        return Response(mask_to_png(mask), media_type="image/png")


def _painted_mask(state: ServeState, upload: Upload, text: str | None) -> np.ndarray:
    """The page's mask (base64 PNG, white = known) as ``1×H×W``, checked as inpainting needs."""
    if not text:
        raise HTTPException(400, "inpainting needs a mask: paint the pixels to fill")
    try:
        encoded = text.partition(",")[2] if text.startswith("data:") else text
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise HTTPException(400, "the mask is not base64-encoded image data") from None
    try:
        mask = read_mask(state.folder, "painted mask", data, upload.pixels.shape[1:])
    except UploadError as error:
        raise HTTPException(400, str(error)) from None
    known = float((mask > 0.5).mean())
    if known == 1.0:
        raise HTTPException(400, "the mask marks every pixel as known: paint the pixels to fill")
    if known == 0.0:
        raise HTTPException(400, "the mask leaves no pixel known: erase some of the paint")
    return mask


def _add_job_routes(app: FastAPI, state: ServeState) -> None:
    @app.post("/api/jobs", status_code=201)
    def start(request: StartRequest) -> dict[str, Any]:
        upload = state.upload(request.upload)
        fields = request.model_dump(exclude={"upload", "mask"})
        options = JobOptions(**fields)
        try:
            options.check(upload.pixels.shape[0])
        except ValueError as error:
            raise HTTPException(400, str(error)) from None
        mask = _painted_mask(state, upload, request.mask) if request.task == "inpaint" else None
        try:
            job = state.queue.submit(upload, options, mask)
        except JobStateError as error:
            raise HTTPException(503, str(error)) from None
        return _listed(state, job)

    @app.get("/api/jobs")
    def jobs() -> list[dict[str, Any]]:
        return [_listed(state, job) for job in state.queue.jobs.values()]

    @app.get("/api/jobs/{job_id}")
    def job(job_id: str) -> dict[str, Any]:
        return _listed(state, state.job(job_id))

    @app.post("/api/jobs/{job_id}/{action}")
    def act(job_id: str, action: Literal["stop", "cancel", "continue"]) -> dict[str, Any]:
        job = state.job(job_id)
        do = {"stop": state.queue.stop, "cancel": state.queue.cancel, "continue": None}[action]
        try:
            (do or state.queue.resume)(job)
        except JobStateError as error:
            raise HTTPException(409, str(error)) from None
        return _listed(state, job)

    @app.get("/api/jobs/{job_id}/events")
    async def events(job_id: str, request: Request, after: int = -1) -> StreamingResponse:
        job = state.job(job_id)
        last = request.headers.get("last-event-id", "")
        start = int(last) + 1 if last.isdigit() else after + 1
        return StreamingResponse(
            _event_stream(job, request, start),
            media_type="text/event-stream",
            headers={"x-accel-buffering": "no"},
        )


def _listed(state: ServeState, job: Job) -> dict[str, Any]:
    return {**job.summary(), "position": state.queue.position(job)}


async def _event_stream(job: Job, request: Request, start: int) -> Any:
    """The job's events from number ``start`` as Server-Sent Events, until it is final."""
    index, quiet = start, 0.0
    yield "retry: 2000\n\n"
    while True:
        final = job.finished  # read before the events, so none sent after it is missed
        batch = job.events_after(index)
        for event in batch:
            data = json.dumps(event.data, allow_nan=False, default=str)
            yield f"id: {event.index}\nevent: {event.kind}\ndata: {data}\n\n"
        index += len(batch)
        if final and not batch:
            return
        if await request.is_disconnected():
            return
        quiet = 0.0 if batch else quiet + EVENT_POLL_SECONDS
        if quiet >= KEEPALIVE_SECONDS:
            quiet = 0.0
            yield ": keep-alive\n\n"
        await asyncio.sleep(EVENT_POLL_SECONDS)


def _add_file_routes(app: FastAPI, state: ServeState) -> None:
    @app.get("/api/jobs/{job_id}/input.png")
    def job_input(job_id: str) -> Response:
        return Response(state.job(job_id).input_png, media_type="image/png")

    @app.get("/api/jobs/{job_id}/estimate.png")
    def estimate(job_id: str) -> Response:
        job = state.job(job_id)
        if job.estimate_png is None:
            raise HTTPException(404, "no estimate yet")
        return Response(job.estimate_png, media_type="image/png")

    @app.get("/api/jobs/{job_id}/result.png")
    def result_preview(job_id: str) -> Response:
        job = state.job(job_id)
        if job.result_png is None:
            raise HTTPException(404, f"job {job_id} has no result ({job.state})")
        return Response(job.result_png, media_type="image/png")

    @app.get("/api/jobs/{job_id}/result")
    def result(job_id: str) -> Response:
        job = state.job(job_id)
        if job.result_path is None or not job.result_path.is_file():
            raise HTTPException(404, f"job {job_id} has no result ({job.state})")
        return FileResponse(job.result_path, filename=job.result_path.name)

    @app.get("/api/jobs/{job_id}/report.html")
    def report(job_id: str) -> Response:
        job = state.job(job_id)
        if job.report_path is None or not job.report_path.is_file():
            raise HTTPException(404, f"job {job_id} has no report ({job.state})")
        return FileResponse(job.report_path, media_type="text/html")
