"""The browser chat page: static files served by the API app, talking to the API over HTTP."""
