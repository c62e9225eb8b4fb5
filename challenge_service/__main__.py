"""Allow ``python -m challenge_service`` as a synonym of ``challenge-service``."""

from .cli import main

main(prog_name="challenge-service")
