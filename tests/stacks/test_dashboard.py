"""`run.py dashboard` for real: the local ZenML server starts, a training run on the `local` stack lands in it, and
headless Debian Chromium logs in and shows the run and its evaluation report without the first-run survey in the
way.

Set MLOPS_UPDATE_SCREENSHOTS=1 to also refresh docs/images/dashboard-evaluation-report.png for the README.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.stacks.service_env import PROJECT_ROOT, sandbox

pytestmark = pytest.mark.integration

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1400,900",
                  # no internet on the test machines: names other than ours fail at once instead of hanging (the
                  # dashboard shows flavor logos from a public bucket)
                  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost")
LATEST_RUN = r'''
import json
from zenml.client import Client
client = Client()
run = client.list_pipeline_runs(sort_by="desc:created", size=1).items[0]
report = run.steps["evaluate_model"].outputs["evaluation_report"][0]
print(json.dumps({"run_id": str(run.id), "run_name": run.name, "project": client.active_project.name,
                  "report_id": str(report.id), "store": client.zen_store.config.url}))
'''


@pytest.fixture
def box():
    yield from sandbox()


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).is_file()]
    assert not missing, f"{', '.join(missing)} not installed: run `bash .ci/deps-server.sh`"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    # An explicit driver path: Selenium then never looks for (or downloads) a driver itself.
    # "eager": navigation (a get, the login click) waits for the document, not for every image and font; every
    # check below waits explicitly for what it needs to see
    options.page_load_strategy = "eager"
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _wait_for_text(driver, text: str, timeout: float = 60) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(lambda d: text in d.find_element("tag name", "body").text,
                                         message=f"'{text}' not on {driver.current_url} after {timeout:g}s")


def _click_text(driver, text: str, tag: str = "*", timeout: float = 30) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    locator = (By.XPATH, f"(//{tag}[normalize-space(.)='{text}'])[last()]")
    WebDriverWait(driver, timeout).until(ec.element_to_be_clickable(locator),
                                         message=f"no clickable '{text}' on {driver.current_url}").click()


def _log_in(driver, password: str) -> None:
    """The dashboard's login form (the server requires a login): user `default`, the generated password."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 60).until(ec.presence_of_element_located((By.NAME, "password")),
                                    message=f"no login form on {driver.current_url}")
    # One script instead of a keystroke round trip each: the form's own change events, as typing would fire them.
    # The login page can keep a loaded machine's headless browser busy for a minute: allow for it.
    driver.set_script_timeout(180)
    driver.execute_script(
        "const set = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;"
        "for (const [name, value] of [['username', arguments[0]], ['password', arguments[1]]]) {"
        "  const field = document.getElementsByName(name)[0];"
        "  set.call(field, value); field.dispatchEvent(new Event('input', {bubbles: true}));"
        "}", "default", password)
    WebDriverWait(driver, 30).until(ec.element_to_be_clickable((By.CSS_SELECTOR, "button[type=submit]")),
                                    message="the login button stays disabled").click()


def test_dashboard_shows_latest_run_and_its_evaluation_report(box, browser, tmp_path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    port = box.ports["zenml"]
    url = f"http://127.0.0.1:{port}"
    started = box.stacks("dashboard", "--no-browser", "--port", str(port), timeout=300).stdout
    assert f"dashboard: {url}" in started

    train = box.run("run.py", "train", "--stack", "local", "--config", str(box.small_training_config()), timeout=900)
    assert ": completed" in train.stdout, train.stdout[-2000:]
    latest = json.loads(box.python(LATEST_RUN).strip().splitlines()[-1])
    assert latest["store"] == url  # the local stack ran through the server

    browser.get(url)
    _log_in(browser, (box.state / "services" / "zenml" / "dashboard-password").read_text().strip())
    _wait_for_text(browser, "Welcome")  # the default user lands on the overview
    assert "/survey" not in browser.current_url

    browser.get(f"{url}/projects/{latest['project']}/runs/{latest['run_id']}")
    _wait_for_text(browser, latest["run_name"])
    _wait_for_text(browser, "evaluation_report")
    _click_text(browser, "evaluation_report", tag="p")  # the artifact node in the run's DAG opens its sheet
    _wait_for_text(browser, latest["report_id"])
    _click_text(browser, "Visualization")
    _click_text(browser, "Load Preview", tag="button")  # the dashboard asks before rendering HTML it did not make
    frame = WebDriverWait(browser, 30).until(ec.presence_of_element_located((By.TAG_NAME, "iframe")))
    browser.switch_to.frame(frame)
    _wait_for_text(browser, "Holdout evaluation")
    report_text = browser.find_element(By.TAG_NAME, "body").text
    browser.switch_to.default_content()
    assert "roc_auc" in report_text and "accuracy" in report_text

    screenshot = tmp_path / "dashboard-evaluation-report.png"
    assert browser.save_screenshot(str(screenshot))
    print(f"dashboard screenshot: {screenshot}")
    if os.environ.get("MLOPS_UPDATE_SCREENSHOTS") == "1":
        target = PROJECT_ROOT / "docs" / "images" / screenshot.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(screenshot, target)
        print(f"copied to {target}")
