"""REST routes of the service (mounted by :func:`patchwalk_service.app.create_app`)."""
