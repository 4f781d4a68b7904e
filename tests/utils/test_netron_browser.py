"""view(): one Netron process per model, a private folder, clean stops, and a real browser reading it."""

import os
import re
import shutil
import socket
import tempfile
import urllib.error
import urllib.request

import onnx
import pytest

import onnxgraph as og
from onnxgraph import layers
from onnxgraph.utils import view

pytest.importorskip("netron")


def mlp(name="mlp", width=3):
    inputs = og.Input(shape=(4,), name="x")
    h = layers.Dense(width, activation="relu")(inputs)
    return og.Model(inputs, layers.Dense(2)(h), name=name)


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def served_model(url: str) -> onnx.ModelProto:
    """The model bytes the page loads: index.html names them in a meta tag under /data/."""
    page = get(url).decode("utf-8")
    path = re.search(r'<meta name="file" content="([^"]+)">', page).group(1)
    return onnx.load_from_string(get(url + path))


def refused(url: str) -> bool:
    host, port = url.split("//")[1].split(":")
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex((host, int(port))) != 0


def test_one_process_per_model_each_serving_its_own(tmp_path):
    first, second = mlp("first", 3), mlp("second", 5)
    with view(first, browse=False) as a, view(second, browse=False, layer_functions=False) as b:
        assert a.process.pid != b.process.pid and a.url != b.url
        assert a.url.startswith("http://localhost:")
        grouped, flat = served_model(a.url), served_model(b.url)
        assert grouped.graph.name == "first" and [n.op_type for n in grouped.graph.node] == ["Dense", "Dense_v2"]
        assert flat.graph.name == "second" and [n.name for n in flat.graph.node][:2] == ["dense_2/MatMul", "dense_2/Add"]
        # Only the model is under /data/: the private folder holds nothing else.
        assert sorted(os.listdir(os.path.dirname(a.file))) == ["first.onnx"]
        with pytest.raises(urllib.error.HTTPError):
            get(a.url + "/data/netron.log")
    for handle in (a, b):
        assert handle.process.poll() is not None and not handle.running
        assert not os.path.exists(os.path.dirname(handle.file))
        assert refused(handle.url)
    a.stop()  # idempotent


def test_view_a_file_and_a_fixed_port(tmp_path):
    model = mlp()
    path = tmp_path / "m.onnx"
    model.save(path)
    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    handle = view(str(path), port=port, browse=False)
    try:
        assert handle.url == f"http://localhost:{port}"
        assert served_model(handle.url).SerializeToString() == path.read_bytes()
    finally:
        handle.stop()
    with pytest.raises(FileNotFoundError):
        view(tmp_path / "missing.onnx", browse=False)


def test_busy_port_is_a_clear_error():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        s.listen()
        with pytest.raises(RuntimeError, match="Netron did not start"):
            view(mlp(), port=s.getsockname()[1], browse=False, timeout=20)


def _chrome():
    webdriver = pytest.importorskip("selenium.webdriver")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.skip("chromium and chromedriver are not installed (tools/setup_test_env.sh installs them)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1200,900"):
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="onnxgraph-chrome-")
    options.add_argument(f"--user-data-dir={profile}")
    options.binary_location = chromium
    return webdriver.Chrome(service=Service(driver_path), options=options), profile


@pytest.fixture(scope="module")
def browser():
    driver, profile = _chrome()
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def canvas_node_names(driver, url, count: int) -> list:
    """Open Netron with node names shown on the canvas; return the text of each node box."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    # Netron waits for cookie consent before opening the model (the cookie sticks on localhost).
    driver.add_cookie({"name": "consent", "value": "1"})
    driver.execute_script("window.localStorage.setItem('options', JSON.stringify({names: true}))")
    driver.get(url)
    WebDriverWait(driver, 30).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#canvas g.node")) >= count)
    # The first text element of each node box is its title: the node name with `names` on.
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#canvas g.node')).map("
        "n => (n.querySelector('text') || {}).textContent || '')")


@pytest.mark.slow
def test_browser_shows_layer_nodes_and_flat_ops(browser):
    model = mlp("browser_mlp")
    with model.view(browse=False) as grouped:
        names = canvas_node_names(browser, grouped.url, 4)
    # Graph input, one node per layer, graph output.
    assert names == ["x", "dense", "dense_1", "dense_1"]
    with model.view(browse=False, layer_functions=False) as flat:
        names = canvas_node_names(browser, flat.url, 7)
    assert names == ["x", "dense/MatMul", "dense/Add", "dense/Relu", "dense_1/MatMul", "dense_1/Add", "dense_1"]
    assert browser.title.startswith("browser_mlp") or "Netron" in browser.title
