"""The paper's experiments on the trained model (issue 13): one module an experiment."""
