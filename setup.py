"""reproml: reproducible TensorFlow research on Sacred.

Install with the pinned constraints so every machine resolves the same versions:

    pip install -c constraints.txt -e .[test]
"""

from setuptools import find_packages, setup

# apache-beam 2.77 is the newest release that installs beside TensorFlow 2.15 (protobuf<5,
# numpy<2); its [gcp] extra (Dataflow) needs protobuf>=5 and does not (see docs/records.md).
BEAM = ["apache-beam==2.77.0"]
BOARD = ["secantusdb"]
# rows_from_coco (reproml.records.sources_coco): COCO polygon and RLE masks.
COCO = ["pycocotools"]

setup(
    name="reproml",
    version="0.1.0",
    description="Handlers -> TFRecords -> Estimators, tracked and re-runnable with Sacred.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11,<3.12",
    packages=find_packages(
        include=["reproml", "reproml.*", "handlers", "handlers.*", "experiments", "experiments.*"]
    ),
    install_requires=[
        "tensorflow==2.15.1",
        "tensorflow-estimator==2.15.0",
        "tensorflow-gan==2.1.0",
        "tensorflow-probability~=0.23.0",
        "tf-keras==2.15.1",
        "sacred==0.8.7",
        "pymongo",
        "numpy<2",
        "scipy",
        "h5py",
        "tqdm",
        "google-crc32c",
        "zlib-ng",
        "scikit-learn",
        "pillow",
        "matplotlib",
        "optuna",  # reproml sweep: the search and its study storage
        "pandas",  # reproml.load_runs / load_metrics: runs as DataFrames for a notebook
        "umap-learn",  # the drift report's UMAP projection (numba, llvmlite, pynndescent pinned)
        "cryptography",  # Ed25519 signatures of run seals (reproml.runs.signing)
        "packaging",  # reproduce: package names compared as pip does (canonicalize_name)
    ],
    extras_require={
        # WriteRecords (reproml.records.beam_writer): the same shards as write_records, on Beam.
        "beam": BEAM,
        # The tests run the Beam writer on the DirectRunner, so `make test` installs it too.
        "test": [
            "pytest",
            "pytest-xdist",
            "hypothesis",
            "ruff",
            # lint-imports: the layers contract in .importlinter (tests/test_layers.py).
            "import-linter",
            *BEAM,
            *BOARD,
            *COCO,
            "playwright",
        ],
        # COCO annotation files as a row source.
        "coco": COCO,
        # reproml board's server for file-store runs: SecantusDB (GPL-2.0), only ever started
        # as a separate process (secantusd-py), never imported by reproml.
        "board": BOARD,
    },
    entry_points={"console_scripts": ["reproml=reproml.cli.main:main"]},
)
