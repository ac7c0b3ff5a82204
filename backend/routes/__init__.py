"""The API's endpoints, one module per resource; `backend.app` lists their routes."""
