# A user's own module for autopar-import-torch's FILE.py:CLASS form.
import torch


class MLP(torch.nn.Module):
    def __init__(self, hidden=32):
        super().__init__()
        self.fc1 = torch.nn.Linear(16, hidden)
        self.fc2 = torch.nn.Linear(hidden, 4)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


def example_inputs(batch):
    return (torch.randn(batch, 16),)
