"""The admin dashboards, as a package: ``site`` installs them on an ``AdminSite``,
``views`` are the pages, ``forms`` their filters. Templates stay in
``templates/porpoise_django/``.

Imported by the admin's autodiscovery, this adds the dashboards to
``admin.site``; another site calls ``install(site)`` itself::

    from porpoise_django.admin.site import install
    install(my_site)
"""

from django.contrib import admin

from porpoise_django.admin.site import install

install(admin.site)
