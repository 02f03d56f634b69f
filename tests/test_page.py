"""The camera's own page in Chromium: the stream, the live status panel and the controls."""
import os
import time

from selenium.webdriver.support.ui import Select

from firmware import ROOT, MjpegReader, wait_for

SCREENSHOT = os.path.join(ROOT, "build", "page.png")  # the README's picture (docs/page.png)


def status_cell(browser, name):
    return browser.execute_script(
        "var r=[].slice.call(document.querySelectorAll('#status tr'));"
        "for(var i=0;i<r.length;i++)if(r[i].cells[0].textContent==arguments[0])"
        "return r[i].cells[1].textContent;return null;", name)


def natural_width(browser):
    return browser.execute_script("return document.getElementById('live').naturalWidth")


def part_sizes(port, count=5):
    viewer = MjpegReader(port)
    viewer.opening()
    sizes = [len(viewer.part()[1]) for _ in range(count)]
    viewer.close()
    return sizes


def test_page_shows_stream_status_and_controls_that_work(start, browser):
    fw = start()
    browser.set_window_size(1000, 760)
    browser.get(fw.url + "/")
    assert wait_for(lambda: natural_width(browser) == 320, 15)
    assert wait_for(lambda: status_cell(browser, "frame age"), 10)

    # the status figures change over time, without a reload
    uptime = status_cell(browser, "uptime")
    assert wait_for(lambda: status_cell(browser, "uptime") != uptime, 5)
    assert wait_for(lambda: float(status_cell(browser, "frames/s") or 0) > 5, 5)
    assert status_cell(browser, "viewers") == "1 of 8"
    assert status_cell(browser, "frame").startswith("320\u00d7240, ")

    # lowering the quality on the page shrinks the stream's parts
    before = part_sizes(fw.port)
    browser.execute_script(
        "var q=document.querySelector('input[name=quality]');q.value=20;"
        "q.dispatchEvent(new Event('change',{bubbles:true}));")
    assert wait_for(lambda: max(part_sizes(fw.port)) < min(before) / 2, 10)

    # changing the frame size changes the image's natural size, without a reload
    browser.execute_script("window.notReloaded = true")
    Select(browser.find_element("name", "framesize")).select_by_visible_text("QQVGA")
    assert wait_for(lambda: natural_width(browser) == 160, 10)
    assert browser.execute_script("return window.notReloaded") is True

    # the snapshot button downloads a JPEG
    link = browser.find_element("id", "snap")
    assert link.get_attribute("download") and link.get_attribute("href").endswith("/snapshot.jpg")
    assert browser.find_element("id", "msg").text == ""  # no control was refused
    loaded = browser.execute_script(
        "return performance.getEntriesByType('resource').map(function(e){return e.name})")
    assert loaded and all(url.startswith(fw.url + "/") for url in loaded), loaded  # no internet


def test_page_at_phone_width_with_vision_result(start, browser):
    with open(os.path.join(ROOT, "examples", "track_ball.py")) as f:
        fw = start(vision=f.read())
    browser.set_window_size(390, 1100)
    browser.get(fw.url + "/")
    assert wait_for(lambda: natural_width(browser) == 320, 15)
    assert wait_for(lambda: '"found"' in browser.find_element("id", "vision").text, 10)
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= 390, "nothing wider than the phone's screen"
    time.sleep(1.5)  # a full status panel in the picture
    os.makedirs(os.path.dirname(SCREENSHOT), exist_ok=True)
    browser.save_screenshot(SCREENSHOT)
    assert os.path.getsize(SCREENSHOT) > 10000
