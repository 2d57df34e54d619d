"""``python -m anbu_detector``: run the detector until SIGINT or SIGTERM."""

from anbu_runtime.service import serve

from .bootstrap import create


def main() -> None:
    runtime, app = create()
    serve(app, runtime)


if __name__ == "__main__":
    main()
