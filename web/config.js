// Where the API lives: the same origin, locally (make dev serves both) and in the cloud (CloudFront
// sends /v1/* to API Gateway). A page served from elsewhere may set it before this file.
window.PUNCHCARD_API = window.PUNCHCARD_API || "";
