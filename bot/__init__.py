"""hubbot: a Discord front-end for the Civitai model hub."""

__version__ = "0.1.0"
