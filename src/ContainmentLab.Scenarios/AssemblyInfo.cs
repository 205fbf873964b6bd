namespace ContainmentLab.Scenarios;
