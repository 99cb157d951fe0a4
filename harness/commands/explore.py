"""``harness explore``: the Streamlit explorer of one photograph, or one run, on a local address.

Every option is checked before the server starts: a missing model file or a bad sidecar, a
folder that is not a run directory, a port outside 1-65535 or already taken, an address this
machine cannot listen on, each one line (UserError, exit 2).
"""
from __future__ import annotations

import socket
import sys
from pathlib import Path

from harness.errors import EXIT_OK, UserError


def check_address(host: str, port: int) -> None:
    """Refuse a port outside 1-65535, one already in use, or an address not of this machine."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise UserError(f"--port {port}: not a port; give a whole number from 1 to 65535 "
                        "(default 8501)")
    if not host or not host.strip():
        raise UserError("--host: empty; give an address of this machine (default 127.0.0.1)")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UserError(f"--host {host}: not an address ({exc}); give an address of this machine "
                        "(default 127.0.0.1)") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
                raise UserError(f"--port {port}: already in use on {host}; stop what listens "
                                f"there or choose another port (e.g. --port {port + 1})") from None
            raise UserError(f"--host {host}: cannot listen there ({exc.strerror or exc}); give "
                            "an address of this machine (default 127.0.0.1)") from None


def explore(*, model: str | None, model_spec: str | None, positive_class: str | None,
            trust_model: bool, run: str | None, host: str, port: int, quiet: bool) -> int:
    """Check the options, print the explorer's URL and serve it until interrupted."""
    if model is not None:
        if (":" not in model or Path(model).exists()) and not Path(model).exists():
            raise UserError(f"--model {model}: not found; give a .keras/.h5/.tflite/.onnx file, a "
                            "SavedModel folder, or module:function")
        from harness.models.open import open_model

        open_model(model, spec_path=model_spec, positive_class=positive_class,
                   trust=trust_model)  # reads the sidecar now: a bad one stops here
    if run is not None:
        from harness.explore.run_view import RunView

        RunView.open(run)
    check_address(host, port)
    from harness.explore.server import app_arguments, serve

    shown = f"[{host}]" if ":" in host else host
    print(f"http://{shown}:{port}", flush=True)
    if not quiet:
        print("DermaTrace explorer: open the address above in a browser; Ctrl-C stops it.",
              file=sys.stderr, flush=True)
    serve(host=host, port=port,
          app_args=app_arguments(model=model, model_spec=model_spec,
                                 positive_class=positive_class, trust_model=trust_model, run=run))
    return EXIT_OK
