"""textkit's command-line front end (installed as the package ``textkit_cli``)."""
