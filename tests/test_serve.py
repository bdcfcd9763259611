"""``autodip serve``'s API through FastAPI's test client: the token, uploads (their limits and
refusals), jobs (events, stop, continue, cancel, failures) and downloads. Tiny images on the CPU.
"""

from __future__ import annotations

import base64
import io
import json
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import zlib
from importlib.util import find_spec

import numpy as np
import pytest
import torch

pytest.importorskip("fastapi", reason="autodip serve needs the serve extra")
if find_spec("httpx2") is None and find_spec("httpx") is None:
    pytest.skip("FastAPI's test client needs httpx2 (or httpx)", allow_module_level=True)

from fastapi.testclient import TestClient
from PIL import Image

from autodip.cli import main
from autodip.defaults import AUTO_TILE, AUTO_TILE_PIXELS, DENOISE_ENSEMBLE, TASK_DEFAULTS
from autodip.serve import jobs as serve_jobs
from autodip.serve.app import create_app
from autodip.serve.server import LocalServer, is_loopback

TOKEN = "test-token-123"
FINAL = {"done", "stopped", "failed", "cancelled"}


def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def small_image(size: int = 16, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    return png_bytes((rng.random((size, size, 3)) * 255).astype(np.uint8))


def mask_b64(size: int = 16) -> str:
    mask = np.full((size, size), 255, np.uint8)
    mask[4:8, 3:12] = 0  # a painted stroke: missing pixels
    return base64.b64encode(png_bytes(mask)).decode()


@pytest.fixture(autouse=True)
def _one_thread():
    """One intra-op thread: the job's thread and the test client's share two (loaded) cores, and
    OpenMP's spinning threads slow a run tenfold when they are oversubscribed."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def client(tmp_path):
    app = create_app(tmp_path, TOKEN, device="cpu", max_upload=200_000)
    with TestClient(app, headers={"X-Autodip-Token": TOKEN}) as test_client:
        yield test_client


def upload(client, data: bytes | None = None, name: str = "tiny.png") -> dict:
    answer = client.post("/api/uploads", params={"name": name}, content=data or small_image())
    assert answer.status_code == 201, answer.text
    return answer.json()


def start(client, upload_id: str, **options) -> dict:
    answer = client.post("/api/jobs", json={"upload": upload_id, "width": 4, **options})
    assert answer.status_code == 201, answer.text
    return answer.json()


def wait(client, job_id: str, states=FINAL, timeout: float = 60.0, step: int = 0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["state"] in states and (job["step"] or 0) >= step:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not reach {states}: {job}")


def events(client, job_id: str) -> list[tuple[str, dict]]:
    """The job's whole event stream (it ends once the job is final)."""
    found, kind = [], None
    with client.stream("GET", f"/api/jobs/{job_id}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if line.startswith("event: "):
                kind = line[len("event: ") :]
            elif line.startswith("data: "):
                found.append((kind, json.loads(line[len("data: ") :])))
    return found


# --- the token -------------------------------------------------------------------------------


def test_every_request_needs_the_token(tmp_path):
    app = create_app(tmp_path, TOKEN, device="cpu")
    with TestClient(app) as anonymous:
        for method, path in [("GET", "/"), ("GET", "/api/info"), ("POST", "/api/uploads")]:
            missing = anonymous.request(method, path)
            assert missing.status_code == 401
            assert "access token" in missing.json()["detail"]
            wrong = anonymous.request(method, path, headers={"X-Autodip-Token": "nope"})
            assert wrong.status_code == 403
            assert "wrong access token" in wrong.json()["detail"]
        assert anonymous.get("/static/app.js", params={"token": "x" + TOKEN}).status_code == 403
        page = anonymous.get("/", params={"token": TOKEN})
        assert page.status_code == 200
        assert "autodip" in page.text
        cookie = page.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        # the cookie the URL set now opens the rest, as a browser's later requests do
        assert anonymous.get("/api/info").status_code == 200
        assert anonymous.get("/static/app.js").headers["content-type"].startswith("text/javascript")


def test_the_page_is_closed_to_other_sites(client):
    page = client.get("/", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in page.headers
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "http" not in client.get("/static/app.js").text.split("sourceMappingURL")[0].lower()
    options = client.options("/api/jobs", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in options.headers
    assert client.get("/static/../app.py").status_code == 404


def test_info_lists_what_the_page_offers(client):
    info = client.get("/api/info").json()
    assert info["device"] == "cpu"
    assert "hourglass" in info["nets"]
    assert "cifs" in info["criteria"] and "oracle" not in info["criteria"]
    assert info["defaults"]["denoise"]["stop"] == "cifs"
    assert info["defaults"]["denoise"]["ensemble"] == DENOISE_ENSEMBLE  # the page's placeholder
    assert info["defaults"]["sr"]["ensemble"] == 1
    # the patience in words, by size, as --help gives it; none where the criteria keep their own
    assert info["defaults"]["denoise"]["patience"] == TASK_DEFAULTS["denoise"].describe_patience()
    assert info["defaults"]["denoise"]["patience"].startswith("300 (450 from")
    assert info["defaults"]["sr"]["patience"] is None
    # the page shows the tiling choice, and one run per tile, where the task tiles large images
    assert info["defaults"]["denoise"]["tile"] == AUTO_TILE
    assert info["defaults"]["denoise"]["tile_from_pixels"] == AUTO_TILE_PIXELS
    assert info["defaults"]["inpaint"]["tile"] is None


def test_a_jobs_command_line_names_the_ensemble_only_where_it_is_not_the_default():
    from autodip.serve.jobs import JobOptions

    assert "--ensemble" not in JobOptions("denoise").argv("x.png")
    assert JobOptions("denoise", ensemble=1).argv("x.png")[-2:] == ["--ensemble", "1"]
    assert "--ensemble" not in JobOptions("sr", ensemble=1).argv("x.png")
    assert JobOptions("sr", ensemble=3).argv("x.png")[-2:] == ["--ensemble", "3"]
    members = [JobOptions("denoise").members(), JobOptions("denoise", ensemble=1).members()]
    assert members == [DENOISE_ENSEMBLE, 1] and JobOptions("inpaint").members() == 1


# --- uploads ---------------------------------------------------------------------------------


def test_upload_is_read_and_previewed(client):
    described = upload(client, name="../../secret/tiny.png")
    assert described["name"] == "tiny.png"  # no folder of the client's reaches the server
    assert (described["width"], described["height"], described["channels"]) == (16, 16, 3)
    assert described["format"] == "png" and described["output"] == "tiny-restored.png"
    preview = client.get(f"/api/uploads/{described['id']}/preview.png")
    assert preview.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(preview.content)).size == (16, 16)


def test_sixteen_bit_and_float_images_are_tone_mapped(client):
    dim = np.zeros((16, 16), np.uint16)
    dim[4:12, 4:12] = 4000  # a 12-bit signal in a 16-bit file: nearly black as is
    buffer = io.BytesIO()
    Image.fromarray(dim).save(buffer, format="PNG")
    described = upload(client, buffer.getvalue(), "dim.png")
    assert described["bit_depth"] == 16 and described["tone_mapped"]
    preview = client.get(f"/api/uploads/{described['id']}/preview.png")
    assert np.asarray(Image.open(io.BytesIO(preview.content))).max() == 255
    array = np.linspace(-3.0, 5.0, 3 * 12 * 10, dtype=np.float32).reshape(3, 12, 10)
    npy = io.BytesIO()
    np.save(npy, array)
    described = upload(client, npy.getvalue(), "data.npy")
    assert described["format"] == "npy" and described["output"] == "data-restored.npy"
    assert described["tone_mapped"]


def test_too_large_upload_is_refused_with_the_limit(client):
    answer = client.post("/api/uploads", params={"name": "big.png"}, content=b"x" * 300_001)
    assert answer.status_code == 413
    assert "upload limit of" in answer.json()["detail"]
    assert "--max-upload" in answer.json()["detail"]

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(30):
            yield b"x" * 10_000

    streamed = client.post("/api/uploads", content=chunks())
    assert streamed.status_code == 413


def _png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"this is not an image", "not a readable image"),
        (small_image()[:60], "truncated"),
        (_png_claiming(100_000, 100_000), "too large"),
        (b"", "is empty"),
    ],
    ids=["garbage", "truncated", "decompression-bomb", "empty"],
)
def test_corrupt_upload_is_refused_with_a_clear_message(client, tmp_path, data, expected):
    answer = client.post("/api/uploads", params={"name": "bad.png"}, content=data)
    assert answer.status_code == 400
    detail = answer.json()["detail"]
    assert detail.startswith("cannot read the image 'bad.png'") or "empty" in detail
    assert expected in detail
    assert str(tmp_path) not in detail  # no server path in what the page is told
    assert not list(tmp_path.glob("upload-*"))  # nothing left behind


def test_mask_file_is_read_at_the_image_size(client):
    image = upload(client)
    mask = np.full((16, 16), 255, np.uint8)
    mask[:, :5] = 0
    answer = client.post(f"/api/uploads/{image['id']}/mask", content=png_bytes(mask))
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    assert (np.asarray(Image.open(io.BytesIO(answer.content)))[:, :5] == 0).all()
    wrong = client.post(f"/api/uploads/{image['id']}/mask", content=png_bytes(mask[:8]))
    assert wrong.status_code == 400 and "must match" in wrong.json()["detail"]


# --- jobs ------------------------------------------------------------------------------------


def test_a_job_streams_its_progress_and_its_result_downloads(client):
    image = upload(client)
    job = start(
        client, image["id"], task="denoise", iters=40, stop="discrepancy", patience=1000, ensemble=1
    )
    assert job["state"] in ("queued", "running")
    done = wait(client, job["id"])
    assert done["state"] == "done", done
    stream = events(client, job["id"])
    kinds = [kind for kind, _ in stream]
    assert {"status", "progress", "point", "estimate", "done"} <= set(kinds)
    points = [data for kind, data in stream if kind == "point"]
    assert [p["step"] for p in points] == list(range(10, 41, 10))
    assert any(p["criteria"].get("discrepancy", {}).get("steps") for p in points)
    progress = next(data for kind, data in stream if kind == "progress")
    assert {"step", "limit", "rate", "left", "elapsed", "loss"} <= set(progress)
    outcome = next(data for kind, data in stream if kind == "done")
    assert outcome["iterations"] == 40 and outcome["result_name"] == "tiny-restored.png"
    assert "summary" in outcome
    assert client.get(f"/api/jobs/{job['id']}/estimate.png").status_code == 200
    result = client.get(f"/api/jobs/{job['id']}/result")
    assert result.status_code == 200
    assert 'filename="tiny-restored.png"' in result.headers["content-disposition"]
    assert Image.open(io.BytesIO(result.content)).size == (16, 16)
    report = client.get(f"/api/jobs/{job['id']}/report.html")
    assert report.status_code == 200 and "<html" in report.text.lower()
    after = events(client, job["id"])  # a late reader replays it all, then the stream ends
    assert len(after) == len(stream)


def test_super_resolution_keeps_the_input_format_and_bit_depth(client):
    rgb16 = (np.random.default_rng(1).random((8, 8, 3)) * 65535).astype(np.uint16)
    import tifffile

    buffer = io.BytesIO()
    tifffile.imwrite(buffer, rgb16)
    image = upload(client, buffer.getvalue(), "small.tif")
    job = start(client, image["id"], task="sr", factor=2, iters=10)
    assert wait(client, job["id"])["state"] == "done"
    result = client.get(f"/api/jobs/{job['id']}/result")
    pixels = tifffile.imread(io.BytesIO(result.content))
    assert pixels.shape == (16, 16, 3) and pixels.dtype == np.uint16


def test_stop_returns_the_best_so_far_and_continue_resumes_it(client):
    image = upload(client)
    job = start(client, image["id"], task="inpaint", mask=mask_b64(), iters=600)
    wait(client, job["id"], states={"running"}, step=1)
    stopping = client.post(f"/api/jobs/{job['id']}/stop")
    assert stopping.status_code == 200
    stopped = wait(client, job["id"])
    assert stopped["state"] == "stopped" and stopped["can_continue"]
    assert stopped["outcome"]["interrupted"]
    first_run = stopped["outcome"]["iterations"]
    assert 0 < first_run < 600
    result = client.get(f"/api/jobs/{job['id']}/result")
    assert result.status_code == 200 and Image.open(io.BytesIO(result.content)).size == (16, 16)
    assert client.get(f"/api/jobs/{job['id']}/report.html").status_code == 200

    assert client.post(f"/api/jobs/{job['id']}/continue").status_code == 200
    finished = wait(client, job["id"])
    assert finished["state"] == "done", finished
    assert finished["outcome"]["iterations"] == 600
    steps = [data["step"] for kind, data in events(client, job["id"]) if kind == "point"]
    assert steps == sorted(set(steps))  # one curve, continued where it stopped
    again = client.post(f"/api/jobs/{job['id']}/continue")
    assert again.status_code == 409 and "only a run stopped" in again.json()["detail"]


def test_the_queue_runs_one_job_at_a_time_and_cancels(client):
    image = upload(client)
    first = start(client, image["id"], task="denoise", iters=100_000, stop="none")
    second = start(client, image["id"], task="denoise", iters=10)
    wait(client, first["id"], states={"running"}, step=1)
    listed = {job["id"]: job for job in client.get("/api/jobs").json()}
    assert listed[first["id"]]["position"] == 0
    assert listed[second["id"]]["state"] == "queued" and listed[second["id"]]["position"] == 1
    assert client.post(f"/api/jobs/{second['id']}/cancel").json()["state"] == "cancelled"
    assert client.post(f"/api/jobs/{first['id']}/cancel").status_code == 200
    cancelled = wait(client, first["id"])
    assert cancelled["state"] == "cancelled"
    assert client.get(f"/api/jobs/{first['id']}/result").status_code == 404
    assert client.post(f"/api/jobs/{first['id']}/stop").status_code == 409


def test_a_failing_job_shows_its_error_and_the_server_goes_on(client, monkeypatch):
    real = serve_jobs._restore
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the GPU caught fire")
        return real(*args, **kwargs)

    monkeypatch.setattr(serve_jobs, "_restore", failing)
    image = upload(client)
    broken = start(client, image["id"], task="denoise", iters=10)
    failed = wait(client, broken["id"])
    assert failed["state"] == "failed"
    assert failed["message"] == "RuntimeError: the GPU caught fire"
    assert ("error", {"message": "RuntimeError: the GPU caught fire"}) in events(
        client, broken["id"]
    )
    healthy = start(client, image["id"], task="denoise", iters=10)
    assert wait(client, healthy["id"])["state"] == "done"


@pytest.mark.parametrize(
    ("options", "status", "expected"),
    [
        ({"task": "denoise", "net": "resnet-9000"}, 400, "unknown network 'resnet-9000'"),
        ({"task": "inpaint", "stop": "cifs", "mask": mask_b64()}, 400, "applies to denoise"),
        ({"task": "denoise", "stop": "oracle"}, 400, "needs a clean reference"),
        ({"task": "denoise", "net": "auto", "width": 8}, 400, "chooses its width itself"),
        ({"task": "inpaint"}, 400, "inpainting needs a mask"),
        ({"task": "inpaint", "mask": "!!!"}, 400, "not base64-encoded"),
        ({"task": "inpaint", "mask": "aGVsbG8="}, 400, "cannot read the mask"),
        ({"task": "sr", "factor": 9}, 400, "factor"),
        ({"task": "denoise", "iters": 0}, 400, "iters"),
        ({"task": "blur"}, 400, "task"),
        ({"task": "denoise", "upload": "nope"}, 404, "no upload 'nope'"),
    ],
    ids=lambda value: str(value)[:40] if not isinstance(value, int) else str(value),
)
def test_bad_job_requests_are_refused_with_a_reason(client, options, status, expected):
    image = upload(client)
    answer = client.post("/api/jobs", json={"upload": image["id"], **options})
    assert answer.status_code == status, answer.text
    assert expected in answer.json()["detail"]


def test_a_mask_must_leave_something_to_fill_and_something_known(client):
    image = upload(client)
    white = base64.b64encode(png_bytes(np.full((16, 16), 255, np.uint8))).decode()
    black = base64.b64encode(png_bytes(np.zeros((16, 16), np.uint8))).decode()
    for mask, expected in [(white, "every pixel as known"), (black, "no pixel known")]:
        answer = client.post(
            "/api/jobs", json={"upload": image["id"], "task": "inpaint", "mask": mask}
        )
        assert answer.status_code == 400 and expected in answer.json()["detail"]


def test_unknown_jobs_are_not_found(client):
    for path in ["/api/jobs/99", "/api/jobs/99/result", "/api/jobs/99/events"]:
        assert client.get(path).status_code == 404


# --- the server and the command --------------------------------------------------------------


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def test_the_server_removes_its_folder_on_exit():
    server = LocalServer("127.0.0.1", 0, device="cpu")
    thread = server.start_in_thread()
    assert http_status(f"http://127.0.0.1:{server.port}/api/info?token={server.token}") == 200
    assert server.folder.is_dir()
    server.stop()
    thread.join(10)
    assert not thread.is_alive() and not server.folder.exists()


def test_loopback_hosts():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2")


def test_serve_without_the_extra_says_how_to_install_it(monkeypatch, capsys):
    import autodip.serve as serve

    monkeypatch.setattr(serve, "find_spec", lambda name: None)
    assert main(["serve"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "pip install 'autodip[serve]'" in error


def test_serve_on_a_taken_port_is_a_usage_error(capsys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port), "--device", "cpu"]) == 2
    assert "cannot listen on 127.0.0.1" in capsys.readouterr().err


def test_the_command_prints_the_address_and_stops_on_ctrl_c():
    import signal

    process = subprocess.Popen(
        [sys.executable, "-m", "autodip", "serve", "--port", "0", "--device", "cpu"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = ""
        deadline = time.monotonic() + 60
        while "token=" not in url and time.monotonic() < deadline:
            url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and "?token=" in url
        assert http_status(url) == 200
        assert http_status(url.split("?")[0]) == 401
        process.send_signal(signal.SIGINT)
        assert process.wait(20) == 0
        assert "server stopped" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()


def test_an_ensemble_runs_its_members_and_says_which_runs(client):
    image = upload(client)
    job = start(client, image["id"], task="denoise", iters=10, ensemble=2)
    done = wait(client, job["id"])
    assert done["state"] == "done", done
    members = [data for kind, data in events(client, job["id"]) if kind == "member"]
    assert [(m["member"], m["count"], m["seed"]) for m in members] == [(1, 2, 0), (2, 2, 1)]
    assert client.get(f"/api/jobs/{job['id']}/result").status_code == 200
    refused = client.post(
        "/api/jobs", json={"upload": image["id"], "task": "denoise", "ensemble": 0}
    )
    assert refused.status_code == 400 and "ensemble" in refused.json()["detail"]


@pytest.fixture
def large_from_48(monkeypatch):
    """Images of 48² pixels and more count as large: denoised in tiles of 32²."""
    from autodip import defaults

    monkeypatch.setattr(defaults, "AUTO_TILE_PIXELS", 48 * 48)
    monkeypatch.setattr(defaults, "AUTO_TILE", 32)


def test_a_large_image_is_denoised_in_tiles_shown_whole(client, large_from_48):
    from autodip.core.tiling import plan_tiles

    image = upload(client, small_image(48))
    job = start(client, image["id"], task="denoise", iters=20)
    done = wait(client, job["id"])
    assert done["state"] == "done", done
    assert "restored in 4 tiles" in done["message"]
    stream = events(client, job["id"])
    tiles = [data for kind, data in stream if kind == "tile"]
    planned = plan_tiles(48, 48, 32, 8)
    assert [(t["tile"], t["count"]) for t in tiles] == [(k, 4) for k in range(1, 5)]
    assert [(t["top"], t["left"]) for t in tiles] == [(p.top, p.left) for p in planned]
    running = [d["message"] for kind, d in stream if kind == "status" and d["state"] == "running"]
    assert running == [
        "48×48 pixels: denoised in tiles of 32², one run per tile (as on the command line)"
    ]
    assert not [kind for kind, _ in stream if kind == "member"]  # one run per tile
    points = [data["step"] for kind, data in stream if kind == "point"]
    assert points == [10, 20] * 4  # each tile's run is watched, its steps from 1
    estimate = client.get(f"/api/jobs/{job['id']}/estimate.png")
    assert Image.open(io.BytesIO(estimate.content)).size == (48, 48)  # the whole image
    result = client.get(f"/api/jobs/{job['id']}/result")
    assert Image.open(io.BytesIO(result.content)).size == (48, 48)
    # an image under the line, and an ensemble asked for, are fitted whole
    small = start(client, upload(client, small_image(40))["id"], task="denoise", iters=10)
    assert wait(client, small["id"])["state"] == "done"
    asked = start(client, image["id"], task="denoise", iters=10, ensemble=2)
    assert wait(client, asked["id"])["state"] == "done"
    for whole in (small, asked):
        assert not [k for k, _ in events(client, whole["id"]) if k == "tile"]


def test_a_tiled_job_stops_with_the_tiles_done_and_cannot_continue(client, large_from_48):
    image = upload(client, small_image(48))
    job = start(client, image["id"], task="denoise", iters=100_000, stop="none")
    wait(client, job["id"], states={"running"}, step=1)
    assert client.post(f"/api/jobs/{job['id']}/stop").status_code == 200
    stopped = wait(client, job["id"])
    assert stopped["state"] == "stopped" and not stopped["can_continue"], stopped
    assert "interrupted in tile 1 of 4" in stopped["message"]
    assert client.get(f"/api/jobs/{job['id']}/result").status_code == 200
    again = client.post(f"/api/jobs/{job['id']}/continue")
    assert again.status_code == 409


def test_a_jobs_tile_follows_the_command_lines_rule(large_from_48):
    from autodip.serve.jobs import JobOptions

    assert JobOptions("denoise").tile_for(48, 48) == 32
    assert JobOptions("denoise").tile_for(40, 40) is None
    assert JobOptions("inpaint").tile_for(64, 64) is None  # only denoising tiles unasked
    assert JobOptions("denoise", ensemble=2).tile_for(64, 64) is None
    assert JobOptions("denoise", ensemble_transforms="dihedral").tile_for(64, 64) is None
    assert JobOptions("denoise").members(tile=32) == 1
    assert JobOptions("denoise", ensemble=1).tile_for(64, 64) == 32
    whole = JobOptions("denoise", tiling="none")  # the page's "whole", the CLI's --no-tile
    assert whole.tile_for(64, 64) is None and whole.argv("x.png")[-1] == "--no-tile"
    assert "--no-tile" not in JobOptions("denoise").argv("x.png")
    assert "--no-tile" not in JobOptions("sr", tiling="none").argv("x.png")  # never tiles
    with pytest.raises(ValueError, match="tiling"):
        JobOptions("denoise", tiling="sometimes").check(3)


def test_a_large_image_asked_whole_is_fitted_whole(client, large_from_48):
    image = upload(client, small_image(48))
    job = start(client, image["id"], task="denoise", iters=10, ensemble=1, tiling="none")
    assert wait(client, job["id"])["state"] == "done"
    assert not [kind for kind, _ in events(client, job["id"]) if kind == "tile"]
    refused = client.post(
        "/api/jobs", json={"upload": image["id"], "task": "denoise", "tiling": "sometimes"}
    )
    assert refused.status_code == 400 and "tiling" in refused.text  # not a value offered


class _FakeJob:
    """What :class:`RunWatch` reads of a job: its upload, tile, requests and events."""

    def __init__(self, tile: int | None = None) -> None:
        self.upload = type("Upload", (), {"pixels": np.zeros((1, 48, 48), np.float32),
                                          "display": (0.0, 1.0)})()  # fmt: skip
        self.tile = tile
        self.cancel_requested = False
        self.stop_requested = threading.Event()
        self.events: list[tuple[str, dict]] = []
        self.shown: list[np.ndarray] = []

    def emit(self, kind: str, **data) -> None:
        self.events.append((kind, data))

    def set_estimate(self, png: np.ndarray, step: int) -> None:
        self.shown.append(png)


def test_the_estimate_shown_pastes_the_running_tile_in_its_place(monkeypatch, large_from_48):
    from autodip.core.result import StepReport
    from autodip.core.tiling import plan_tiles

    monkeypatch.setattr(serve_jobs, "to_png", lambda pixels, display: pixels.copy())
    job = _FakeJob(tile=32)
    watch = serve_jobs.RunWatch(job, preview_every=0.0)
    second = plan_tiles(48, 48, 32, 8)[1]
    watch.on_tile(2, 4)
    ones = torch.ones(1, 1, 32, 32)
    watch(StepReport(step=10, estimate=ones, output=ones, loss=0.1, seconds=1.0))
    shown = job.shown[-1][0]
    inside = np.zeros((48, 48), bool)
    inside[second.rows, second.cols] = True
    assert (shown[inside] == 1).all() and (shown[~inside] == 0).all()
    assert job.events[0] == ("tile", {"tile": 2, "count": 4, "top": second.top,
                                      "left": second.left, "height": 32, "width": 32})  # fmt: skip
    padded = torch.full((1, 1, 32, 40), 0.5)  # a thin tile's padded estimate: not pasted
    watch(StepReport(step=20, estimate=padded, output=padded, loss=0.1, seconds=1.0))
    assert np.array_equal(job.shown[-1][0], shown)


def test_a_stop_between_runs_ends_the_job_there_and_a_cancel_anywhere():
    job = _FakeJob()
    watch = serve_jobs.RunWatch(job)
    watch.next_run(first=False)  # nothing asked: go on
    job.stop_requested.set()
    watch.next_run(first=True)  # the first run always starts
    with pytest.raises(KeyboardInterrupt):
        watch.next_run(first=False)
    job.cancel_requested = True
    with pytest.raises(serve_jobs.JobCancelledError):
        watch.next_run(first=True)


def test_a_websocket_without_the_token_is_closed(tmp_path):
    from starlette.websockets import WebSocketDisconnect

    app = create_app(tmp_path, TOKEN, device="cpu")
    with (
        TestClient(app) as anonymous,
        pytest.raises(WebSocketDisconnect),
        anonymous.websocket_connect("/api/anything") as socket,
    ):
        socket.receive_text()
