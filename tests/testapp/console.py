"""A project's own admin site, with its own name, header and permission rule."""

from django.contrib import admin
from django.http import HttpRequest

from porpoise_django.admin.site import install


class StaffConsole(admin.AdminSite):
    site_header = "Staff console"
    site_title = "Staff console"

    def has_permission(self, request: HttpRequest) -> bool:
        # Stricter than the default site: superusers only.
        return bool(request.user.is_active and request.user.is_superuser)


console = StaffConsole(name="console")
install(console)
