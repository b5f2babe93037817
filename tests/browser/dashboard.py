"""The dashboard driven as a person would, in headless Chromium through Selenium.

Run by tests/cli/dashboard.rs against a real `runner serve-webhook` on loopback; every
assertion failure or missing tool exits non-zero, so the Rust test fails (it never skips).

    python dashboard.py --runner BIN --base http://127.0.0.1:PORT --token T --dir DIR --shots DIR [--bless DIR]

The fixture (made by the Rust test) has `require_approval = true`, a waiting patch
`fix-greeting` that edits greet.py, a waiting patch `add-notes` that creates notes.md, and
health and watchdog state files.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

DESKTOP = (1280, 900)
PHONE = (390, 844)
WAIT_S = 30


def browser(profiles):
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for flag in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--hide-scrollbars"]:
        opts.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="runner-profile-")
    profiles.append(profile)
    opts.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(options=opts, service=Service("/usr/bin/chromedriver"))
    driver.set_page_load_timeout(WAIT_S)
    return driver


def viewport(driver, size, height=None):
    width, h = size
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height or h, "deviceScaleFactor": 1, "mobile": width < 600})


def no_overflow(driver, what):
    sw, iw = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert sw <= iw, f"{what}: the page is {sw}px wide in a {iw}px window (horizontal overflow)"


def shoot(driver, name, args, bless_as=None):
    """Check both sizes for overflow and save a full-page screenshot of each."""
    for label, size in [("desktop", DESKTOP), ("phone", PHONE)]:
        viewport(driver, size)
        driver.refresh()
        no_overflow(driver, f"{name} at {size[0]}x{size[1]}")
        full = driver.execute_script("return document.documentElement.scrollHeight")
        viewport(driver, size, max(size[1], full))
        path = os.path.join(args.shots, f"{name}-{label}.png")
        driver.save_screenshot(path)
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n", path
        if args.bless and bless_as and label in bless_as:
            shutil.copyfile(path, os.path.join(args.bless, bless_as[label]))
    viewport(driver, DESKTOP)


def wait_for(driver, what, predicate):
    """Wait for the page a click led to; the old page's elements go stale meanwhile."""
    WebDriverWait(driver, WAIT_S, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda d: predicate(d), message=what)


def text(driver):
    return driver.find_element(By.TAG_NAME, "body").text


def runner(args, *cmd):
    out = subprocess.run([args.runner, *cmd], cwd=args.dir, capture_output=True, text=True, timeout=60)
    return out


def events(args):
    with open(os.path.join(args.dir, ".runner", "events.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    p = argparse.ArgumentParser()
    for name in ["--runner", "--base", "--token", "--dir", "--shots"]:
        p.add_argument(name, required=True)
    p.add_argument("--bless")
    args = p.parse_args()
    os.makedirs(args.shots, exist_ok=True)
    if args.bless:
        os.makedirs(args.bless, exist_ok=True)
    profiles = []
    drivers = []
    try:
        d = browser(profiles)
        drivers.append(d)
        viewport(d, DESKTOP)

        # Without credentials: the sign-in page, not JSON.
        d.get(args.base + "/dashboard")
        assert d.find_element(By.TAG_NAME, "h1").text == "Sign in", text(d)
        assert "missing credentials" not in d.page_source
        d.find_element(By.NAME, "token").send_keys("not-the-token")
        d.find_element(By.CSS_SELECTOR, "form[action='/dashboard/sign-in'] button").click()
        wait_for(d, "the refusal", lambda d: "not the one runner is configured with" in text(d))

        # Sign in with the token: the queues.
        d.find_element(By.NAME, "token").send_keys(args.token)
        d.find_element(By.CSS_SELECTOR, "form[action='/dashboard/sign-in'] button").click()
        wait_for(d, "the overview", lambda d: d.find_elements(By.ID, "queues"))
        row = d.find_element(By.CSS_SELECTOR, "#queues tr:nth-child(2)").text.split()
        assert row[:3] == ["main", "2", "0"], f"queue row {row}"
        assert d.find_element(By.ID, "mode").text == "auto"
        watchdog = d.find_element(By.ID, "watchdog").text
        assert "serve-webhook open" in watchdog and "health-loop half-open" in watchdog, watchdog
        assert "failing 1" in d.find_element(By.ID, "health").text
        assert d.find_elements(By.ID, "chart-outcomes") and d.find_elements(By.ID, "chart-durations")
        cookie = d.get_cookie("runner_session")
        assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Strict", cookie
        shoot(d, "overview", args, {"desktop": "dashboard-overview.png", "phone": "dashboard-phone.png"})

        # A waiting patch and the diff it would make.
        d.find_element(By.LINK_TEXT, "fix-greeting").click()
        wait_for(d, "the patch page", lambda d: d.find_elements(By.CSS_SELECTOR, "pre.diff"))
        dels = [e.text for e in d.find_elements(By.CSS_SELECTOR, "pre.diff .del")]
        adds = [e.text for e in d.find_elements(By.CSS_SELECTOR, "pre.diff .add")]
        assert '-    return "hello " + name' in dels, dels
        assert '+    return "hello, " + name' in adds, adds
        colour = d.find_element(By.CSS_SELECTOR, "pre.diff .add").value_of_css_property("background-color")
        assert colour != "rgba(0, 0, 0, 0)", colour
        shoot(d, "patch-waiting", args, {"desktop": "dashboard-patch.png"})

        # Approve it; the next run applies it.
        d.find_element(By.XPATH, "//button[text()='Approve']").click()
        wait_for(d, "approved", lambda d: "Approved: an apply-patch run takes it" in text(d))
        run = runner(args, "apply-patch")
        assert run.returncode == 0, run.stderr
        d.refresh()
        assert d.find_element(By.CSS_SELECTOR, "h1 .badge").text == "applied", text(d)
        assert [e.text for e in d.find_elements(By.CSS_SELECTOR, "pre.diff .add")] == adds, "the diff it made"
        actors = {e["actor"] for e in events(args) if e["action"] == "patch.approved" and e.get("id") == "fix-greeting"}
        assert len(actors) == 1 and next(iter(actors)).startswith("web:"), actors
        shoot(d, "patch-applied", args)

        # Revert it.
        d.find_element(By.XPATH, "//button[text()='Revert']").click()
        wait_for(d, "reverted", lambda d: "Reverted: its files were put back" in text(d))
        assert d.find_element(By.CSS_SELECTOR, "h1 .badge").text == "reverted"
        with open(os.path.join(args.dir, "tree", "greet.py")) as f:
            assert '"hello " + name' in f.read()

        # A revert refused because the file changed since: the refusal is shown.
        assert runner(args, "approve", "add-notes").returncode == 0
        assert runner(args, "apply-patch").returncode == 0
        with open(os.path.join(args.dir, "tree", "notes.md"), "a") as f:
            f.write("edited by hand\n")
        d.get(args.base + "/dashboard/patches/add-notes?env=main")
        d.find_element(By.XPATH, "//button[text()='Revert']").click()
        wait_for(d, "the refusal", lambda d: "refused to revert" in text(d))
        assert "notes.md" in d.find_element(By.CSS_SELECTOR, ".notice.bad").text

        # The patch list, filtered.
        d.get(args.base + "/dashboard/patches?state=applied&env=main")
        listed = d.find_element(By.ID, "patches").text
        assert "add-notes" in listed and "fix-greeting" in listed and "reverted" in listed, listed
        no_overflow(d, "patch list")

        # The mode control.
        d.get(args.base + "/dashboard")
        Select(d.find_element(By.NAME, "mode")).select_by_visible_text("manual")
        d.find_element(By.XPATH, "//button[text()='Set mode']").click()
        wait_for(d, "mode manual", lambda d: d.find_element(By.ID, "mode").text == "manual")
        assert any(e["action"] == "mode.set" and e["to"] == "manual" and e["actor"].startswith("web:") for e in events(args))

        # A form posted without its CSRF token is refused, and changes nothing.
        d.execute_script("document.querySelector(\"form[action='/dashboard/mode'] input[name=csrf]\").remove()")
        Select(d.find_element(By.NAME, "mode")).select_by_visible_text("lockdown")
        d.find_element(By.XPATH, "//button[text()='Set mode']").click()
        wait_for(d, "the refusal", lambda d: "no valid CSRF token" in text(d))
        assert runner(args, "mode").stdout.strip() == "manual"

        # A link from `runner dashboard-link`, in a fresh profile: in without the token.
        run = runner(args, "dashboard-link", "--ttl", "15m")
        assert run.returncode == 0, run.stderr
        link = run.stdout.strip()
        assert link.startswith(args.base + "/dashboard/link?t="), link
        fresh = browser(profiles)
        drivers.append(fresh)
        fresh.get(link)
        wait_for(fresh, "the overview from a link", lambda d: d.find_elements(By.ID, "queues"))
        assert fresh.find_elements(By.XPATH, "//button[text()='Set mode']"), "a link session may act"

        # A tampered link: the sign-in page.
        last = link[-1]
        tampered = link[:-1] + ("0" if last != "0" else "1")
        other = browser(profiles)
        drivers.append(other)
        other.get(tampered)
        assert other.find_element(By.TAG_NAME, "h1").text == "Sign in"
        assert "invalid or has expired" in text(other)
        other.get(args.base + "/dashboard")
        assert other.find_element(By.TAG_NAME, "h1").text == "Sign in", "no session from a tampered link"
    finally:
        for drv in drivers:
            drv.quit()
        for profile in profiles:
            shutil.rmtree(profile, ignore_errors=True)
    print("dashboard browser test passed")


if __name__ == "__main__":
    main()
