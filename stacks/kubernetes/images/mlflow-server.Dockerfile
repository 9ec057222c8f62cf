# MLflow tracking server with the PostgreSQL driver and the S3 client the official image lacks.
# Same versions as the pipeline environment (requirements.lock).
# Build from the repository root:
#   docker build -f stacks/kubernetes/images/mlflow-server.Dockerfile -t <registry>/mlflow-server:3.17.2 .
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install --no-cache-dir "mlflow==3.17.2" "psycopg2-binary==2.9.13" "boto3==1.43.117"
RUN useradd --uid 1000 --user-group --no-create-home --shell /usr/sbin/nologin mlflow
USER 1000
EXPOSE 5000
