"""The pages a manager opens, in a real headless browser, served the real way.

The app runs as ``make serve`` runs it: the base settings with DEBUG off,
``collectstatic`` into a STATIC_ROOT, gunicorn with WhiteNoise, on a free
loopback port, against the test database.  Debian's chromium (driven through
chromium-driver by Selenium) can reach only 127.0.0.1: every other host name
resolves to nothing and every other connection goes to a proxy that refuses.
Each test also asserts, from the browser's own network log, that no request
left for another host.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import REPO_ROOT
from tests.procwatch import wait_until

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip(
        f"browser test needs Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER}); "
        "`scripts/system-deps.sh --test` (run by `make test`) installs them",
        allow_module_level=True,
    )

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import TimeoutException, WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

PASSWORD = "browser-test-password-1"
# The admin's base.css sets the header background to --header-bg (#417690);
# an unstyled page leaves it transparent.
ADMIN_HEADER_BG = "rgb(65, 118, 144)"
UNSTYLED_BG = "rgba(0, 0, 0, 0)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server_env(django_db_setup, tmp_path_factory) -> dict[str, str]:
    """The environment of ``make serve``'s web process, pointed at the test database."""
    from django.db import connection

    db = connection.settings_dict
    root = tmp_path_factory.mktemp("served")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        DJANGO_SETTINGS_MODULE="fala_clip.settings.base",
        DEBUG="false",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        STATIC_ROOT=str(root / "static"),
        MEDIA_ROOT=str(root / "media"),
        WORK_DIR=str(root / "work"),
        FALA_VAR_DIR=str(root / "var"),
        ALLOWED_HOSTS="127.0.0.1",
        PYTHONPATH=str(REPO_ROOT),
    )
    return env


@pytest.fixture(scope="module")
def live_url(server_env) -> Iterator[str]:
    """gunicorn serving the app after ``collectstatic``, as scripts/serve.sh does."""
    collect = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=REPO_ROOT,
        env=server_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert collect.returncode == 0, collect.stdout + collect.stderr
    assert (Path(server_env["STATIC_ROOT"]) / "staticfiles.json").exists()

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = Path(server_env["STATIC_ROOT"]).parent / "gunicorn.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "fala_clip.wsgi", "--bind", f"127.0.0.1:{port}"]
            + ["--workers", "1", "--timeout", "120"],
            cwd=REPO_ROOT,
            env=server_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    last: list[str] = []

    def answers() -> bool:
        assert proc.poll() is None, f"gunicorn exited ({proc.returncode}):\n{log.read_text()}"
        try:
            with no_proxy.open(f"{url}/admin/login/", timeout=5) as resp:
                return resp.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            last[:] = [repr(exc)]
            return False

    no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        assert wait_until(answers, timeout=90, interval=0.1), (
            f"gunicorn on {url} did not answer within 90 s; last answer {last}; "
            f"gunicorn said:\n{log.read_text()[-3000:]}"
        )
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[webdriver.Chrome]:
    profile = tmp_path_factory.mktemp("chromium-profile")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1280,900",
        # Only loopback is reachable: other names do not resolve, and any other
        # connection goes to a proxy on a closed port (connection refused).
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        f"--proxy-server=http://127.0.0.1:{_free_port()}",
        "--proxy-bypass-list=127.0.0.1",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser, live_url):
    """The browser with no cookies and an empty network log, for one test."""
    browser.delete_all_cookies()
    browser.get_log("performance")  # drain what earlier tests left
    return browser


def wait_for(browser, condition, what: str, timeout_s: float = 60):
    try:
        return WebDriverWait(browser, timeout_s).until(condition)
    except TimeoutException:
        body = browser.find_element(By.TAG_NAME, "body").text[:1000]
        raise AssertionError(
            f"no {what} after {timeout_s:g} s at {browser.current_url}; the page says:\n{body}"
        ) from None


def requested_urls(browser) -> list[str]:
    """URLs the page asked the network for, from Chromium's network log.

    A request that the page's Content-Security-Policy blocked never leaves the
    browser, so it does not count.
    """
    sent: dict[str, str] = {}
    blocked: set[str] = set()
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            sent[params["requestId"]] = params["request"]["url"]
        elif message["method"] == "Network.loadingFailed" and params.get("blockedReason") == "csp":
            blocked.add(params["requestId"])
    return [url for rid, url in sent.items() if rid not in blocked]


def assert_only_loopback(urls: list[str], live_url: str) -> None:
    assert urls, "the network log recorded no request"
    foreign = [u for u in urls if urlsplit(u).scheme in ("http", "https", "ws", "wss") and not u.startswith(live_url)]
    assert foreign == []


def test_other_hosts_are_unreachable_from_the_browser(page):
    # When the browser opens a public address, then the connection fails (the proxy refuses it)
    with pytest.raises(WebDriverException, match="net::ERR_PROXY_CONNECTION_FAILED"):
        page.get("https://example.com/")


def test_the_admin_login_page_is_styled_by_its_hashed_static_files(page, live_url):
    # When the admin's login page is opened
    page.get(f"{live_url}/admin/login/")
    # Then its stylesheet is the collected, hashed copy, and it is applied
    sheets = [e.get_attribute("href") for e in page.find_elements(By.CSS_SELECTOR, "link[rel=stylesheet]")]
    base_css = [h for h in sheets if "/static/admin/css/base." in h]
    assert len(base_css) == 1 and base_css[0] != f"{live_url}/static/admin/css/base.css", sheets
    header_bg = page.execute_script("return getComputedStyle(document.getElementById('header')).backgroundColor")
    assert header_bg == ADMIN_HEADER_BG != UNSTYLED_BG
    font = page.execute_script("return getComputedStyle(document.body).fontFamily")
    assert "system-ui" in font  # base.css's --font-family-primary, not the browser's serif default
    assert_only_loopback(requested_urls(page), live_url)


def test_a_staff_user_logs_in_and_lists_jobs(page, live_url, transactional_db):
    from django.contrib.auth.hashers import PBKDF2PasswordHasher
    from django.contrib.auth.models import Permission, User

    from jobs.models import Job

    # Given a staff user allowed to view jobs, and a job of an artist
    # (hashed with a hasher of the served settings: the test settings' MD5 is not among them)
    hasher = PBKDF2PasswordHasher()
    manager = User.objects.create(username="manager", password=hasher.encode(PASSWORD, hasher.salt()), is_staff=True)
    manager.user_permissions.add(Permission.objects.get(codename="view_job", content_type__app_label="jobs"))
    artist = User.objects.create_user("artist-x")
    job = Job.objects.create(kind="clip_pipeline", owner=artist)
    # When the manager logs in through the admin's form
    page.get(f"{live_url}/admin/login/?next=/admin/jobs/job/")
    page.find_element(By.ID, "id_username").send_keys("manager")
    page.find_element(By.ID, "id_password").send_keys(PASSWORD)
    page.find_element(By.CSS_SELECTOR, "#login-form [type=submit]").click()
    # Then the jobs list opens and shows the job
    wait_for(page, ec.presence_of_element_located((By.ID, "result_list")), "the jobs list")
    assert urlsplit(page.current_url).path == "/admin/jobs/job/"
    rows = page.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert [r.find_element(By.CSS_SELECTOR, "th").text for r in rows] == [str(job.pk)]
    assert "artist-x" in rows[0].text and "clip_pipeline" in rows[0].text
    assert_only_loopback(requested_urls(page), live_url)


def test_swagger_ui_renders_the_operations_from_our_own_assets(page, live_url):
    # When the API docs page is opened with no other host reachable
    page.get(f"{live_url}/api/docs/")
    # Then Swagger UI (served by us) renders the operations of the schema
    wait_for(page, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) >= 10, "Swagger UI's operations")
    operations = {
        (
            b.find_element(By.CSS_SELECTOR, ".opblock-summary-method").text,
            b.find_element(By.CSS_SELECTOR, ".opblock-summary-path").get_attribute("data-path"),
        )
        for b in page.find_elements(By.CSS_SELECTOR, ".opblock")
    }
    assert {("POST", "/videos"), ("GET", "/videos"), ("GET", "/jobs"), ("GET", "/jobs/{job_id}")} <= operations
    urls = requested_urls(page)
    assert any("/static/drf_spectacular_sidecar/swagger-ui-dist/" in u for u in urls)
    assert_only_loopback(urls, live_url)


def test_redoc_renders_the_operations_from_our_own_assets(page, live_url):
    # When the ReDoc page is opened with no other host reachable
    page.get(f"{live_url}/api/redoc/")
    # Then ReDoc (served by us) renders the operations of the schema
    wait_for(
        page,
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "[data-section-id^='operation/']")) >= 10,
        "ReDoc's operations",
    )
    text = page.find_element(By.TAG_NAME, "body").text
    assert "/videos" in text and "/jobs/{job_id}" in text
    urls = requested_urls(page)
    assert any("/static/drf_spectacular_sidecar/redoc/" in u for u in urls)
    assert_only_loopback(urls, live_url)
