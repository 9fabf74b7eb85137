import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
# mindcv/version.py is the single source of the version string; read, not executed
VERSION = re.search(r'^__version__ = "([^"]+)"$', (HERE / "mindcv" / "version.py").read_text(), re.M)[1]


def read_requirements(name: str) -> list:
    lines = (HERE / name).read_text().splitlines()
    return [line for line in lines if line and not line.startswith(("#", "-r"))]


setup(
    name="mindcv",
    version=VERSION,
    description="MobileNetV2 model zoo and training toolkit for MindSpore",
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["mindcv", "mindcv.*"]),
    package_data={"mindcv": ["data/assets/*", "data/assets/**/*", "kernels/*.cc", "kernels/*.h"]},
    include_package_data=True,
    python_requires=">=3.9",
    install_requires=read_requirements("requirements.txt"),
    extras_require={"test": ["pytest>=7.0", "onnx>=1.14", "onnxruntime>=1.32"]},
    license="Apache-2.0",
)
