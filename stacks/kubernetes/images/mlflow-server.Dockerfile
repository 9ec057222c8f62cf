# syntax=docker/dockerfile:1
# MLflow tracking server with the PostgreSQL driver and the S3 client the official image lacks.
# Same versions as the pipeline environment (requirements.lock).
# Build from the repository root:
#   docker build -f stacks/kubernetes/images/mlflow-server.Dockerfile -t <registry>/mlflow-server:3.17.2 .
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install --no-cache-dir "mlflow==3.17.2" "psycopg2-binary==2.9.13" "boto3==1.43.117"
# Secrets arrive as files (NAME_FILE=/run/secrets/...); the shim exports them for MLflow, libpq and boto3.
COPY --chown=root:root --chmod=0755 stacks/kubernetes/images/secrets-from-files.sh /usr/local/bin/secrets-from-files
# A high numeric uid (no clash with host users); stacks/kubernetes/mlflow.yaml runs the pod as the same uid.
RUN useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin mlflow
USER 10001
EXPOSE 5000
# Kubernetes uses the manifest's probes; HEALTHCHECK serves `docker run`. No curl in the slim image.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:5000/health', timeout=2)"]
ENTRYPOINT ["/usr/local/bin/secrets-from-files"]
CMD ["mlflow", "server", "--host=0.0.0.0", "--port=5000"]
