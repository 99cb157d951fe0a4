"""The command line: a thin shell over the library.

``main(argv) -> int`` parses arguments, unpacks them at this one boundary into plain keyword
arguments, calls one command function from ``harness/commands/`` and maps the outcome to an exit
code: 0 done (every gate passed), 1 a gate failed, 2 bad input or configuration (one line, no
traceback), 3 an unexpected error (one line plus a log file to attach to a bug report).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import traceback
from pathlib import Path

from harness.config import cache_dir_option, check_seed
from harness.environment import prepare_libraries
from harness.errors import EXIT_BAD_INPUT, EXIT_UNEXPECTED, DermaTraceError, UserError

PROG = "harness"
#: The skin-tone binning schemes (subgroups.schemes.SCHEME_NAMES; importing it costs a second).
_SCHEMES = "chardon6 (default), coarse3, kinyanjui8, fitzpatrick"


def _progress(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line with exit code 2 (through UserError)."""

    def error(self, message: str):  # noqa: D401 - argparse API
        raise UserError(f"{self.prog}: {message} (see --help)")


def _quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", action="store_true",
                   help="only errors and warnings on stderr: no progress bars, no findings, no "
                        "TensorFlow start-up lines (raises TF_CPP_MIN_LOG_LEVEL to 2)")


def _seed(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=None, help="seed for every random choice (default 0)")


def _cache(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cache", default=None, help="cache folder (default: a per-user cache; 'none' disables)")


def _strict(p: argparse.ArgumentParser) -> None:
    p.add_argument("--strict", action="store_true",
                   help="a WARN verdict (only the point estimate breaches a bound) fails too")


def _recipes() -> str:
    """The recipe names, from the recipe table itself."""
    from harness.train.recipes import RECIPES  # a table of plain values: no TensorFlow

    return ", ".join(RECIPES)


def _model_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model-spec", default=None, help="sidecar JSON (default: M.json beside the model)")
    p.add_argument("--positive-class", default=None, help="binary view of a K-class model")
    p.add_argument("--trust-model", action="store_true",
                   help="allow models that contain code (Keras Lambda layers); only for files you trust")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="DermaTrace: audit skin-image classifiers for fairness "
                     "across skin tones and robustness to photographic variation.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("run", help="audit a model on labelled images")
    p.add_argument("--model", required=True, help="model file/folder or module:function")
    p.add_argument("--data", required=True, help="folder of class subfolders, or a CSV manifest")
    p.add_argument("--out", default=None, help="run directory (default: runs/<model name>)")
    p.add_argument("--config", default=None, help="YAML audit config (default: configs/default.yaml)")
    p.add_argument("--gates", default=None, help="YAML gate file; exit 1 when a gate fails")
    _strict(p)
    p.add_argument("--perturbations", default=None,
                   help="a,b,...|clinical|imagenet-c|sam-c|medmnist-c|all|none (default clinical); "
                        "'harness perturbations' lists them")
    p.add_argument("--severities", default=None, help="e.g. 1,2,3 (default 1-5)")
    p.add_argument("--gradcam", default=None,
                   help="images that get heatmaps (Grad-CAM; occlusion for a model without "
                        "gradients): N (a stratified sample of exactly N), all, none or auto "
                        "(default: all while the heatmaps stay within a budget)")
    p.add_argument("--gradcam-layer", default=None, help="layer for Grad-CAM (default: found)")
    p.add_argument("--skin-tone-scheme", default=None, help=f"ITA binning scheme: {_SCHEMES}")
    p.add_argument("--data-root", default=None, help="root for a manifest's relative paths")
    p.add_argument("--batch-size", type=int, default=None,
                   help="images per forward pass of the model and of Grad-CAM (default 32; "
                        "at least 1)")
    p.add_argument("--chunk-size", type=int, default=None,
                   help="images per chunk (default 32): memory is bounded by it, results do not "
                        "depend on it")
    p.add_argument("--workers", type=int, default=None,
                   help="CPU workers preparing chunks ahead of the model (default 2)")
    p.add_argument("--engine", default=None,
                   help="local (default) or ray (pip install 'dermatrace[ray]')")
    p.add_argument("--ray-address", default=None,
                   help="with --engine ray: an existing Ray cluster (default: a local Ray "
                        "started for the run)")
    p.add_argument("--n-boot", type=int, default=None,
                   help="bootstrap resamples for the confidence intervals (default 1000; at least 1)")
    _model_opts(p)
    _seed(p)
    _cache(p)
    _quiet(p)

    p = sub.add_parser("compare", help="compare a baseline run with a candidate run")
    p.add_argument("--baseline", required=True, help="run directory of the baseline model")
    p.add_argument("--candidate", required=True, help="run directory of the candidate model")
    p.add_argument("--gates", default=None,
                   help="YAML gate file: absolute gates judged on the candidate, regression gates "
                        "(max_regression) on the comparison; exit 1 when a gate fails")
    _strict(p)
    p.add_argument("--out", default=None, help="output folder (default: <candidate>/compare)")
    _seed(p)
    _quiet(p)

    p = sub.add_parser("report", help="re-render report.html from a run's results.json")
    p.add_argument("run_dir", help="run directory written by harness run")
    _quiet(p)

    p = sub.add_parser("gate", help="re-check gates from a run's results.json (no model, no TensorFlow)")
    p.add_argument("run_dir", help="run directory written by harness run")
    p.add_argument("--gates", required=True,
                   help="YAML gate file to judge the run against; exit 1 when a gate fails")
    _strict(p)
    _quiet(p)

    p = sub.add_parser("ita", help="skin-tone estimate per image")
    p.add_argument("data", help="folder of images (class subfolders or not), or a CSV manifest")
    p.add_argument("--out", default=None, help="CSV to write (default: standard output)")
    p.add_argument("--scheme", default="chardon6", help=f"ITA binning scheme: {_SCHEMES}")
    p.add_argument("--size", type=int, default=224, help="image side the estimate is made at")
    _quiet(p)

    p = sub.add_parser("perturb", help="write the perturbation ladder for a folder of images")
    p.add_argument("data", help="folder of images (class subfolders or not), or a CSV manifest")
    p.add_argument("--out", required=True, help="folder to write DIR/<family>@<severity>/... into")
    p.add_argument("--perturbations", default=None,
                   help="a,b,...|clinical|imagenet-c|sam-c|medmnist-c|all (default clinical)")
    p.add_argument("--severities", default=None, help="e.g. 1,2,3 (default 1-5)")
    p.add_argument("--preview", action="store_true", help="also write DIR/preview.png")
    p.add_argument("--size", type=int, default=None, help="resize to SIZE x SIZE first")
    _seed(p)
    _quiet(p)

    p = sub.add_parser("perturbations", help="list the perturbation families (what each varies, "
                       "its parameters at each severity) and the presets")
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="families or presets to show (default: all)")
    _quiet(p)

    p = sub.add_parser("train", help="train the DermaTrace classifier",
                       description=f"Train the DermaTrace classifier. Recipes: {_recipes()}.")
    p.add_argument("--data", required=True,
                   help="folder of class subfolders or a manifest (of a folder with train/, only "
                        "train/ is read)")
    p.add_argument("--out", required=True, help="M.keras to write (the sidecar M.json beside it)")
    p.add_argument("--recipe", default="baseline", help=f"{_recipes()} (default baseline)")
    p.add_argument("--backbone-weights", default="imagenet", help="imagenet|none|PATH")
    p.add_argument("--val-fraction", type=float, default=0.2,
                   help="share of the training images held out for early stopping (finetune "
                        "only; default 0.2)")
    p.add_argument("--epochs", type=int, default=None,
                   help="training epochs (default: the recipe's; a maximum under early stopping)")
    p.add_argument("--input-size", type=int, default=None,
                   help="square input size in pixels (default: the recipe's)")
    p.add_argument("--folds", type=int, default=5,
                   help="k of the cross-validation that chooses the threshold (default 5)")
    p.add_argument("--positive-class", default=None,
                   help="the class the output measures (default: the second in sorted order)")
    p.add_argument("--imagenet-fallback", action="append", default=[], metavar="PATH",
                   help="local weights file for --backbone-weights imagenet when Keras cannot "
                        "download (repeatable; also $DERMATRACE_IMAGENET_WEIGHTS)")
    _seed(p)
    _cache(p)
    _quiet(p)

    p = sub.add_parser("explore", help="a local web app (Streamlit): one photograph, or one run, "
                       "interactively")
    p.add_argument("--model", default=None,
                   help="model file/folder or module:function (default: the --run's model)")
    p.add_argument("--run", default=None, help="run directory written by harness run")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8501, help="port to listen on (default 8501)")
    _model_opts(p)
    _quiet(p)

    p = sub.add_parser("demo", help="the whole story on synthetic skin: no data, no download")
    p.add_argument("--out", default="demo-out",
                   help="folder for the synthetic data, models, runs and comparison (default demo-out)")
    _seed(p)
    _cache(p)
    _quiet(p)
    return parser


def _dispatch(args: argparse.Namespace) -> int:
    """Unpack the namespace into keyword arguments of one command function."""
    cmd = args.command
    quiet = args.quiet
    progress = _progress(quiet)
    given_seed = getattr(args, "seed", None)  # only the commands that draw anything take --seed
    seed = 0 if given_seed is None else given_seed
    check_seed(seed)
    if cmd == "run":
        from harness.commands.run import run

        return run(
            model=args.model, data=args.data, out=args.out, cache_dir=cache_dir_option(args.cache),
            progress=progress, quiet=quiet, config=args.config, gates=args.gates,
            strict=args.strict, perturbations=args.perturbations, severities=args.severities,
            gradcam=args.gradcam, gradcam_layer=args.gradcam_layer,
            skin_tone_scheme=args.skin_tone_scheme, batch_size=args.batch_size,
            n_boot=args.n_boot, seed=args.seed, positive_class=args.positive_class,
            model_spec=args.model_spec, trust_model=args.trust_model, data_root=args.data_root,
            chunk_size=args.chunk_size, workers=args.workers, engine=args.engine,
            ray_address=args.ray_address,
        )
    if cmd == "compare":
        from harness.commands.compare import compare

        return compare(baseline=args.baseline, candidate=args.candidate, gates=args.gates,
                       strict=args.strict, out=args.out, seed=seed, quiet=quiet)
    if cmd == "report":
        from harness.commands.report import report

        return report(run_dir=args.run_dir, quiet=quiet)
    if cmd == "gate":
        from harness.commands.gate import gate

        return gate(run_dir=args.run_dir, gates=args.gates, strict=args.strict, quiet=quiet)
    if cmd == "ita":
        from harness.commands.ita import ita

        return ita(data=args.data, out=args.out, scheme=args.scheme, size=args.size, quiet=quiet)
    if cmd == "perturb":
        from harness.commands.perturb import perturb

        return perturb(data=args.data, out=args.out, perturbations=args.perturbations,
                       severities=args.severities, preview=args.preview, seed=seed,
                       size=args.size, quiet=quiet)
    if cmd == "perturbations":
        from harness.commands.perturbations import perturbations

        return perturbations(names=args.names, quiet=quiet)
    if cmd == "train":
        from harness.commands.train import train

        return train(data=args.data, out=args.out, recipe=args.recipe,
                     backbone_weights=args.backbone_weights, val_fraction=args.val_fraction,
                     epochs=args.epochs, seed=seed, input_size=args.input_size,
                     folds=args.folds, positive_class=args.positive_class,
                     imagenet_fallbacks=_imagenet_fallbacks(args.imagenet_fallback),
                     cache_dir=cache_dir_option(args.cache), progress=progress, quiet=quiet)
    if cmd == "explore":
        from harness.commands.explore import explore

        return explore(model=args.model, model_spec=args.model_spec,
                       positive_class=args.positive_class, trust_model=args.trust_model,
                       run=args.run, host=args.host, port=args.port, quiet=quiet)
    if cmd == "demo":
        from harness.commands.demo import demo

        return demo(out=args.out, seed=seed, cache_dir=cache_dir_option(args.cache), progress=progress,
                    quiet=quiet)
    raise UserError(f"{PROG}: choose a command (see {PROG} --help)")


def _imagenet_fallbacks(paths: list[str]) -> list[str]:
    """``--imagenet-fallback`` files, then ``$DERMATRACE_IMAGENET_WEIGHTS`` (read here, at the
    boundary, like every other option)."""
    env = os.environ.get("DERMATRACE_IMAGENET_WEIGHTS")
    return list(paths) + ([env] if env else [])


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    try:
        if argv is None:
            argv = sys.argv[1:]
        if not argv:
            parser.print_help(sys.stderr)
            return EXIT_BAD_INPUT
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help
            return int(exc.code or 0)
        if args.command is None:
            parser.print_help(sys.stderr)
            return EXIT_BAD_INPUT
        # Before any command imports a library that reads its settings once (TensorFlow's log
        # level is fixed when it is imported, at the model's first prediction).
        prepare_libraries(quiet=args.quiet)
        return _dispatch(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except DermaTraceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted; cached work is kept and the next run resumes from it", file=sys.stderr)
        return 130
    except Exception as exc:  # an unexpected error: one line, and a log to attach to a bug report
        fd, log = tempfile.mkstemp(prefix="dermatrace-crash-", suffix=".log")
        with os.fdopen(fd, "w") as fh:
            fh.write(f"argv: {argv!r}\n")
            traceback.print_exc(file=fh)
        print(f"unexpected error: {type(exc).__name__}: {exc} (details in {log}; please attach "
              "it to a bug report)", file=sys.stderr)
        return EXIT_UNEXPECTED
