"""The compiled detection pass, built by `pip install` with this machine's C compiler.

Everything else about the package is in pyproject.toml. The extension is optional: where it cannot
be built, `refunds detect` reads with the reference reader and says so once.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "creditrefunds.domain._fastdetect",
            sources=["layers/core/python/creditrefunds/domain/_fastdetect.c"],
            depends=["layers/core/python/creditrefunds/domain/_fastdetect_sha256.h"],
            extra_compile_args=["-O2"],
            optional=True,
        )
    ]
)
