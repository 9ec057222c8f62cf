#!/bin/sh
# Entrypoint of the MLflow server image: for every variable NAME_FILE=/path, export NAME with the file's content
# (trailing newlines dropped) and unset NAME_FILE, then run the command. Kubernetes mounts the Secrets as files
# (stacks/kubernetes/mlflow.yaml), so no secret sits in the pod spec's environment; MLflow, libpq and boto3 read
# only environment variables, hence this shim.
set -eu
for name in $(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)_FILE=.*$/\1/p'); do
    eval "path=\${${name}_FILE}"
    if [ ! -f "$path" ] || [ ! -r "$path" ]; then
        echo "secrets-from-files: ${name}_FILE=${path} is not a readable file; check the pod's secret volumes" >&2
        exit 64
    fi
    eval "${name}=\$(cat \"\$path\")"
    export "${name?}"
    unset "${name}_FILE"
done
exec "$@"
