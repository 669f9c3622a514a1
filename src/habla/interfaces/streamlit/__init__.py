"""The Streamlit chat app (``habla streamlit``): a thin client of the HTTP API."""
