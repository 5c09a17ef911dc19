// Where the API lives. Same origin locally (make dev serves both); the infra stack writes
// this file at deploy time with the API Gateway URL.
window.PUNCHCARD_API = window.PUNCHCARD_API || "";
