"""The compiled detection pass, built by `pip install` with this machine's C compiler.

Everything else about the package is in pyproject.toml. The extension is optional: where it cannot
be built, `refunds detect` reads with the reference reader and says so once.
"""

from glob import glob

from setuptools import Extension, setup

SOURCE = "layers/core/python/creditrefunds/domain/_fastdetect_src"

setup(
    ext_modules=[
        Extension(
            "creditrefunds.domain._fastdetect",
            sources=sorted(glob(f"{SOURCE}/*.c")),
            depends=sorted(glob(f"{SOURCE}/*.h")),
            extra_compile_args=["-O2", "-pthread"],
            optional=True,
        )
    ]
)
