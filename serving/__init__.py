"""The Seldon model class and its pinned serving environment.

Stands alone: runs inside the serving environment (serving/requirements.txt), never imports zenml or mlflow.
"""

# Import path of the model class given to `seldon-core-microservice` (locally and in the Kubernetes image).
MODEL_CLASS = "serving.model.SeldonModel"
