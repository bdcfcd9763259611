"""``autodip serve``'s page in a real browser: headless Chromium from Debian's ``chromium`` package,
driven by Selenium through Debian's ``chromium-driver`` (nothing is downloaded at run time).

The test loads the page with its token, uploads a small image, paints a mask stroke, starts a
short inpainting run, sees the progress and the curves move, presses "stop now", downloads the
result and checks its size and format, then continues the run and cancels it. With
``AUTODIP_SCREENSHOT=docs/serve.png`` it also saves a screenshot of the page mid-run there (a
larger image, run longer, for the README). It skips, saying why, only when no browser is
installed; ``.ci/run`` installs one.
"""

from __future__ import annotations

import os
import shutil
import time
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import torch

from autodip.defaults import AUTO_TILE_PIXELS, DENOISE_ENSEMBLE
from autodip.io import read_image, write_image

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None,
    reason="no browser: apt-get install chromium chromium-driver (Debian) to run the page's test",
)
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the dev extra")
pytest.importorskip("uvicorn", reason="autodip serve needs the serve extra")

from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

from autodip.serve.server import LocalServer  # noqa: E402

SCREENSHOT = os.environ.get("AUTODIP_SCREENSHOT")


@pytest.fixture
def server():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # the browser needs the other core
    running = LocalServer("127.0.0.1", 0, device="cpu")
    thread = running.start_in_thread()
    yield running
    running.stop()
    thread.join(20)
    torch.set_num_threads(previous)
    assert not running.folder.exists()


@pytest.fixture
def browser(tmp_path):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.add_argument("--window-size=1440,1300" if SCREENSHOT else "--window-size=1280,900")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    driver = webdriver.Chrome(service=webdriver.ChromeService(DRIVER), options=options)
    driver.downloads = downloads
    yield driver
    driver.quit()


def sample(folder: Path, size: int) -> Path:
    """A ``size``² crop of the bundled F16 picture, as a PNG."""
    pixels, info = read_image(str(resources.files("autodip") / "data" / "f16_256_clean.png"))
    path = folder / "f16.png"
    write_image(path, np.ascontiguousarray(pixels[:, 70 : 70 + size, 60 : 60 + size]), info)
    return path


def until(driver, condition, timeout: float = 60.0, what: str = ""):
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(
        lambda d: condition(d), message=what
    )


def load(browser, server, image: Path, size: int) -> None:
    """Open the page and load ``image`` (``size``² pixels) into it."""
    browser.get(server.url)
    until(browser, lambda d: "device: cpu" in d.find_element(By.ID, "device").text, what="info")
    browser.find_element(By.ID, "file").send_keys(str(image))
    until(browser, lambda d: f"{size}×{size}" in d.find_element(By.ID, "image-info").text)


def test_the_page_inpaints_a_painted_stroke_and_downloads_the_result(server, browser, tmp_path):
    size = 128 if SCREENSHOT else 48
    load(browser, server, sample(tmp_path, size), size)
    browser.find_element(By.CSS_SELECTOR, 'input[name="task"][value="inpaint"]').click()
    canvas = browser.find_element(By.ID, "mask-canvas")
    assert canvas.is_displayed()
    side = canvas.size["width"]
    brush = browser.find_element(By.ID, "brush")
    browser.execute_script(
        "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input'))",
        brush,
        max(2, size // 12),
    )
    # a stroke across the picture, from a quarter to three quarters of its width
    ActionChains(browser).move_to_element_with_offset(
        canvas, -side // 4, -side // 8
    ).click_and_hold().move_by_offset(side // 4, side // 10).move_by_offset(
        side // 4, 0
    ).release().perform()
    painted = browser.execute_script(
        "const c = document.getElementById('mask-canvas');"
        "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n;"
    )
    assert 0 < painted < size * size // 2

    browser.find_element(By.CSS_SELECTOR, "#advanced summary").click()
    tiling = browser.find_element(By.ID, "tiling")
    ensemble = browser.find_element(By.ID, "ensemble")
    assert not tiling.is_displayed()  # inpainting never tiles unasked
    browser.find_element(By.CSS_SELECTOR, 'input[name="task"][value="denoise"]').click()
    assert tiling.is_displayed() and ensemble.get_attribute("placeholder") == f"{DENOISE_ENSEMBLE}"
    browser.find_element(By.CSS_SELECTOR, 'input[name="task"][value="inpaint"]').click()
    Select(browser.find_element(By.ID, "stop-criterion")).select_by_value("wmv")
    width = "32" if SCREENSHOT else "8"
    for field, value in (("width", width), ("patience", "100000"), ("iters", "20000")):
        browser.find_element(By.ID, field).send_keys(value)
    browser.find_element(By.ID, "start").click()

    stats = browser.find_element(By.ID, "stats")
    until(browser, lambda d: "it/s" in stats.text and "step" in stats.text, what="progress")
    loss_points = "return page.curves.loss.length"
    first = until(browser, lambda d: d.execute_script(loss_points) >= 2, what="the loss curve")
    chart = browser.find_element(By.ID, "loss-chart")
    drawn = chart.screenshot_as_png
    until(browser, lambda d: d.execute_script(loss_points) > first + 2, what="the curve grows")
    until(browser, lambda d: chart.screenshot_as_png != drawn, what="the chart is redrawn")
    until(
        browser,
        lambda d: "estimate.png" in (d.find_element(By.ID, "after").get_attribute("src") or ""),
        what="an estimate",
    )
    if SCREENSHOT:  # mid-run, once the criterion's curve has points and the estimate some shape
        wmv = "return (page.curves.criteria.wmv || {points: []}).points.length"
        until(browser, lambda d: d.execute_script(wmv) >= 40, timeout=300, what="wmv's curve")
        time.sleep(2.5)  # one more estimate
        browser.execute_script("window.scrollTo(0, 0)")
        browser.save_screenshot(SCREENSHOT)

    browser.find_element(By.ID, "stop").click()
    status = browser.find_element(By.ID, "status")
    until(browser, lambda d: "stopped" in status.text, what="the stop")
    download = browser.find_element(By.ID, "download")
    until(browser, lambda d: download.is_displayed(), what="the download link")
    assert download.get_attribute("download") == "f16-restored.png"
    assert browser.find_element(By.ID, "continue").is_enabled()
    download.click()
    target = browser.downloads / "f16-restored.png"
    until(browser, lambda d: target.is_file(), timeout=30, what="the downloaded file")
    pixels, info = read_image(target)
    assert pixels.shape == (3, size, size)
    assert (info.format, info.bit_depth) == ("png", 8)

    # "continue" resumes the run where it stopped; "cancel" then drops it
    stopped_at = browser.execute_script("return page.job.step")
    browser.find_element(By.ID, "continue").click()
    until(browser, lambda d: d.execute_script("return page.job.step") > stopped_at, what="resumed")
    browser.find_element(By.ID, "cancel").click()
    until(browser, lambda d: "cancelled" in status.text, what="the cancel")


def test_the_page_says_a_large_image_runs_once_per_tile(server, browser, tmp_path):
    side = int(AUTO_TILE_PIXELS**0.5)
    large = tmp_path / "large.png"
    write_image(large, np.full((3, side, side), 0.5, dtype=np.float32))
    load(browser, server, large, side)
    browser.find_element(By.CSS_SELECTOR, "#advanced summary").click()
    ensemble = browser.find_element(By.ID, "ensemble")
    assert ensemble.get_attribute("placeholder") == "1 (one run per tile)"
    Select(browser.find_element(By.ID, "tiling")).select_by_value("none")  # whole: the default K
    assert ensemble.get_attribute("placeholder") == f"{DENOISE_ENSEMBLE}"
