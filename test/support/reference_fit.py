"""Reference fit for the accuracy matrix: scikit-learn's linear model on a preprocessed train split, scored on the test
split. Usage: reference_fit.py TRAIN.parquet TEST.parquet classification|regression LABEL '["feature", ...]'.
Prints {"metric", "value", "sklearn"} as JSON."""

import json
import sys

import numpy as np
import pyarrow.parquet as pq
import sklearn
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import accuracy_score, mean_squared_error, roc_auc_score


def read(path, features, label):
    table = pq.read_table(path, columns=features + [label])
    x = np.column_stack([table.column(f).to_numpy().astype(float) for f in features])
    return x, table.column(label).to_numpy().astype(float)


def main(train, test, task, label, features):
    features = json.loads(features)
    x_train, y_train = read(train, features, label)
    x_test, y_test = read(test, features, label)
    if task == "regression":
        model = LinearRegression().fit(x_train, y_train)
        value = float(np.sqrt(mean_squared_error(y_test, model.predict(x_test))))
        metric = "rmse"
    else:
        # Close to an unpenalized fit, as the built-in trainer's small L2 penalty is.
        model = LogisticRegression(C=100.0, max_iter=5000).fit(x_train, y_train.astype(int))
        proba = model.predict_proba(x_test)
        if len(model.classes_) == 2:
            metric, value = "auc", float(roc_auc_score(y_test.astype(int), proba[:, 1]))
        else:
            predicted = model.classes_[proba.argmax(axis=1)]
            metric, value = "accuracy", float(accuracy_score(y_test.astype(int), predicted))
    print(json.dumps({"metric": metric, "value": value, "sklearn": sklearn.__version__}))


if __name__ == "__main__":
    main(*sys.argv[1:])
