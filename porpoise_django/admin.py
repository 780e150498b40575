"""Imported by the admin's autodiscovery: adds the dashboards to ``admin.site``."""

from django.contrib import admin

from .admin_site import install

install(admin.site)
