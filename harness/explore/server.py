"""Start the explorer: Streamlit's server in this process, on one address, with nothing
reaching out (no usage statistics, no browser opened, no file watcher)."""
from __future__ import annotations

from pathlib import Path

from harness.explore.photo import MAX_UPLOAD_MB

#: The script Streamlit runs.
APP_SCRIPT = Path(__file__).with_name("app.py")


def server_options(*, host: str, port: int) -> dict[str, object]:
    """Streamlit's settings for the explorer (what ``streamlit run --<option>`` would set)."""
    return {
        "server.address": host,
        "server.port": int(port),
        "server.headless": True,           # never open a browser
        "server.fileWatcherType": "none",  # the app's files are not watched
        "server.runOnSave": False,
        "server.maxUploadSize": MAX_UPLOAD_MB,
        "server.showEmailPrompt": False,
        "browser.gatherUsageStats": False,
        "browser.serverAddress": host,
        "browser.serverPort": int(port),
        "client.toolbarMode": "viewer",
        "client.showErrorDetails": "none",  # an unexpected error: a message, no traceback
        "global.developmentMode": False,
    }


def app_arguments(*, model: str | None, model_spec: str | None, positive_class: str | None,
                  trust_model: bool, run: str | None) -> list[str]:
    """The app script's own options (:func:`harness.explore.page.app_options` reads them)."""
    args: list[str] = []
    for flag, value in (("--model", model), ("--model-spec", model_spec),
                        ("--positive-class", positive_class), ("--run", run)):
        if value:
            args += [flag, str(value)]
    if trust_model:
        args.append("--trust-model")
    return args


def serve(*, host: str, port: int, app_args: list[str]) -> None:
    """Run the app until interrupted (blocks)."""
    from streamlit import config as st_config
    from streamlit.web import bootstrap

    options = server_options(host=host, port=port)
    st_config._main_script_path = str(APP_SCRIPT)
    bootstrap.load_config_options(flag_options=options)
    bootstrap.run(str(APP_SCRIPT), False, app_args, options)
