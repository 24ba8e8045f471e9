"""reproml: reproducible TensorFlow research on Sacred.

Install with the pinned constraints so every machine resolves the same versions:

    pip install -c constraints.txt -e .[test]
"""

from setuptools import find_packages, setup

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
    ],
    extras_require={
        "test": ["pytest", "mongomock", "hypothesis", "ruff"],
    },
    entry_points={"console_scripts": ["reproml=reproml.cli.main:main"]},
)
